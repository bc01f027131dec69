"""Operators' dead-letter queue: filter, group by exception, replay, dry-run, discard. Every action is audited."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from apps.workers.models import DeadLetter, DeadLetterAction
from apps.workers.selectors import deadletter_groups_by_exception
from apps.workers.services import (
    DeadLetterError,
    deadletter_discard,
    deadletter_dry_run,
    deadletter_replay_selected,
)


class DeadLetterActionForm(ActionForm):
    reason = forms.CharField(required=False, max_length=500, help_text="Required to discard.")


class DeadLetterActionInline(admin.TabularInline):
    model = DeadLetterAction
    fields = ("created_at", "kind", "actor", "detail")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("created_at", "id")

    def get_queryset(self, request: HttpRequest) -> QuerySet[DeadLetterAction]:
        return super().get_queryset(request).select_related("actor")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(DeadLetter)
class DeadLetterAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "task_name",
        "queue",
        "exception_class",
        "reason",
        "status",
        "failures",
        "attempts",
        "deliveries",
        "first_failed_at",
        "last_failed_at",
        "correlation_id",
    )
    list_filter = ("status", "reason", "task_name", "queue", "exception_class", "last_failed_at")
    search_fields = ("=task_id", "=correlation_id", "=replayed_task_id")
    search_help_text = "Exact task id, replayed task id or correlation id."
    readonly_fields = [f.name for f in DeadLetter._meta.fields]
    inlines = [DeadLetterActionInline]
    actions = ["replay_selected", "dry_run_selected", "discard_selected"]
    action_form = DeadLetterActionForm
    show_full_result_count = False
    list_per_page = 100

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # every field is read-only: the page shows no Save buttons; actions change letters

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # letters leave only by discard + retention pruning, both audited

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        extra_context = {**(extra_context or {}), "exception_groups": deadletter_groups_by_exception()[:20]}
        return super().changelist_view(request, extra_context=extra_context)

    @admin.action(description="Replay selected (all matching, when 'select all' is used; throttled)")
    def replay_selected(self, request: HttpRequest, queryset: QuerySet[DeadLetter]) -> None:
        plans = deadletter_replay_selected(deadletter_ids=queryset.values_list("id", flat=True), actor=request.user)
        enqueued = sum(1 for plan in plans if plan.will_enqueue)
        self.message_user(request, f"{enqueued} replayed, {len(plans) - enqueued} skipped.", messages.SUCCESS)
        for plan in plans:
            if not plan.will_enqueue:
                self.message_user(request, f"#{plan.deadletter_id}: {plan.explanation}", messages.INFO)

    @admin.action(description="Dry run: what would a replay do?")
    def dry_run_selected(self, request: HttpRequest, queryset: QuerySet[DeadLetter]) -> None:
        for plan in deadletter_dry_run(deadletter_ids=queryset.values_list("id", flat=True)[:100]):
            verdict = "would replay" if plan.will_enqueue else "would not replay"
            self.message_user(request, f"#{plan.deadletter_id} {plan.task_name}: {verdict}: {plan.explanation}")

    @admin.action(description="Discard selected (give a reason)")
    def discard_selected(self, request: HttpRequest, queryset: QuerySet[DeadLetter]) -> None:
        reason = request.POST.get("reason", "").strip()
        if not reason:
            self.message_user(request, "Give a reason to discard.", messages.ERROR)
            return
        try:
            for deadletter_id in queryset.values_list("id", flat=True):
                deadletter_discard(deadletter_id=deadletter_id, actor=request.user, reason=reason)
        except DeadLetterError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(request, "Discarded.", messages.SUCCESS)


@admin.register(DeadLetterAction)
class DeadLetterActionAdmin(admin.ModelAdmin):
    list_display = ("created_at", "kind", "dead_letter_ref", "actor")
    list_filter = ("kind",)
    list_select_related = ("actor",)
    readonly_fields = ("dead_letter", "dead_letter_ref", "kind", "actor", "detail", "created_at")
    raw_id_fields = ("dead_letter",)
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
