"""Operators' dead-letter queue: filter, group by exception, replay, dry-run, discard. Every action is audited."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import SafeString
from django.views.decorators.http import require_POST

from apps.workers.models import DeadLetter, DeadLetterAction
from apps.workers.retry import DeadLetterReason
from apps.workers.selectors import (
    deadletter_groups_by_exception,
    deadletter_task_names,
    deadletter_task_parameters,
)
from apps.workers.services import (
    DeadLetterError,
    ReplayPlan,
    ReplayVerdict,
    deadletter_discard,
    deadletter_dry_run,
    deadletter_replay,
    deadletter_replay_selected,
)
from lib.admin import IndexedSearchAdmin, values_filter

# The record a task's argument names, by the parameter's name: the admin page that shows it.
ARGUMENT_PAGES = {
    "payment_id": "admin:payments_payment_change",
    "purchase_id": "admin:purchases_studentcoursepurchase_change",
    "allocation_id": "admin:allocations_trainerallocation_change",
    "student_id": "admin:directory_student_change",
}
# Replaying or discarding from a letter's page needs what the console's dead-letters page needs.
REPLAY_PERMISSION = "console.replay_deadletters"
# How the dry run's verdict is shown: green would run, grey skip (already applied), red refused.
VERDICT_LEVELS = {ReplayVerdict.WOULD_RUN: messages.SUCCESS, ReplayVerdict.ALREADY_APPLIED: messages.INFO}


def _reasons() -> list[str]:
    return [DeadLetterReason.VALIDATION, DeadLetterReason.PERMANENT, DeadLetterReason.RETRIES_EXHAUSTED,
            DeadLetterReason.POISON, DeadLetterReason.DELIVERY_LIMIT, DeadLetterReason.REJECTED]  # fmt: skip


def _queues() -> list[str]:
    return list(settings.WORKER_QUEUES)


def letter_arguments(letter: DeadLetter) -> SafeString:
    """`name=value` for each stored argument, the value linked to the record it names (payment, purchase, ...)."""
    names = deadletter_task_parameters(task_name=letter.task_name)
    args = letter.args if isinstance(letter.args, list) else []
    kwargs = letter.kwargs if isinstance(letter.kwargs, dict) else {}
    named = [(names[i] if i < len(names) else f"#{i}", value) for i, value in enumerate(args)]
    return format_html_join(", ", "{}", ((_argument(name, value),) for name, value in [*named, *kwargs.items()]))


def _argument(name: str, value: object) -> SafeString:
    page = ARGUMENT_PAGES.get(name)
    if page and type(value) is int:
        return format_html('{}=<a href="{}">{}</a>', name, reverse(page, args=[value]), value)
    return format_html("{}={}", name, json.dumps(value))


def plan_words(plan: ReplayPlan) -> str:
    """The dry run's answer in words an operator can act on: the verdict, then why."""
    return f"#{plan.deadletter_id} {plan.task_name}: {ReplayVerdict.WORDS[plan.verdict]} ({plan.explanation})"


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
class DeadLetterAdmin(IndexedSearchAdmin):
    list_display = (
        "id",
        "task_name",
        "arguments",
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
    # Options from code and settings, never a DISTINCT over the letters; exceptions are the groups above the list.
    list_filter = (
        "status",
        values_filter("reason", _reasons),
        values_filter("task_name", deadletter_task_names, title="task"),
        values_filter("queue", _queues),
        "last_failed_at",
    )
    sortable_by = ("id", "last_failed_at")  # dead_letters_failed_idx
    search_fields = ("task_id", "correlation_id")
    search_keys = ("task_id", "correlation_id")  # dead_letters_task_id_uniq, dead_letters_correlation_idx
    search_email_path = ""
    search_help_text = "Letter id, or an exact task id or correlation id."
    readonly_fields = ["arguments", "in_the_console", *(f.name for f in DeadLetter._meta.fields)]
    inlines = [DeadLetterActionInline]
    actions = ["replay_selected", "dry_run_selected", "discard_selected"]
    action_form = DeadLetterActionForm
    list_per_page = 100
    change_form_template = "admin/deadletters/deadletter/change_form.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # every field is read-only: the page shows no Save buttons; actions change letters

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # letters leave only by discard + retention pruning, both audited

    @admin.display(description="arguments")
    def arguments(self, letter: DeadLetter) -> SafeString:
        return letter_arguments(letter)

    @admin.display(description="console")
    def in_the_console(self, letter: DeadLetter) -> SafeString:
        """The console's dead-letters page, filtered to this letter's payment (every step of it) or its call."""
        names = deadletter_task_parameters(task_name=letter.task_name)
        first = letter.args[0] if isinstance(letter.args, list) and letter.args else None
        if names[:1] == ["payment_id"] and type(first) is int:
            query = {"status": "all", "q": str(first)}
        elif letter.correlation_id:
            query = {"status": "all", "q": letter.correlation_id}
        else:
            query = {"status": "all", "task": letter.task_name, "exception": letter.exception_class}
        return format_html(
            '<a href="{}?{}">Open in /ops/dead-letters</a>', reverse("console:dead-letters"), urlencode(query)
        )

    def get_urls(self) -> list[URLPattern]:
        letter_view = self.admin_site.admin_view
        return [
            path("<int:letter_id>/replay/", letter_view(require_POST(self.replay_view)), name="deadletter_replay"),
            path("<int:letter_id>/dry-run/", letter_view(require_POST(self.dry_run_view)), name="deadletter_dry_run"),
            path("<int:letter_id>/discard/", letter_view(require_POST(self.discard_view)), name="deadletter_discard"),
            *super().get_urls(),
        ]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra_context = {**(extra_context or {}), "may_replay": request.user.has_perm(REPLAY_PERMISSION)}
        return super().change_view(request, object_id, form_url, extra_context=extra_context)

    def _back(self, letter_id: int) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:deadletters_deadletter_change", args=[letter_id]))

    def _require_replay_permission(self, request: HttpRequest) -> None:
        if not request.user.has_perm(REPLAY_PERMISSION):
            raise PermissionDenied("Replaying and discarding dead letters needs the replay_deadletters permission.")

    def dry_run_view(self, request: HttpRequest, letter_id: int) -> HttpResponse:
        """What a replay would do now, in words, coloured by meaning; changes nothing."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        for plan in deadletter_dry_run(deadletter_ids=[letter_id]):
            level = VERDICT_LEVELS.get(plan.verdict, messages.ERROR)
            self.message_user(request, f"Dry run: {plan_words(plan)}", level)
        return self._back(letter_id)

    def replay_view(self, request: HttpRequest, letter_id: int) -> HttpResponse:
        self._require_replay_permission(request)
        try:
            plan = deadletter_replay(deadletter_id=letter_id, actor=request.user)
        except DeadLetter.DoesNotExist:
            raise Http404(f"No dead letter {letter_id}.") from None
        if plan.will_enqueue:
            self.message_user(
                request, f"Replayed: {plan.task_name} sent again as task {plan.task_id}.", messages.SUCCESS
            )
        else:
            self.message_user(
                request, f"Not replayed: {plan_words(plan)}", VERDICT_LEVELS.get(plan.verdict, messages.ERROR)
            )
        return self._back(letter_id)

    def discard_view(self, request: HttpRequest, letter_id: int) -> HttpResponse:
        self._require_replay_permission(request)
        reason = request.POST.get("reason", "").strip()
        if not reason:
            self.message_user(request, "Give a reason to discard.", messages.ERROR)
            return self._back(letter_id)
        try:
            deadletter_discard(deadletter_id=letter_id, actor=request.user, reason=reason[:500])
        except DeadLetter.DoesNotExist:
            raise Http404(f"No dead letter {letter_id}.") from None
        except DeadLetterError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            self.message_user(request, f"Discarded: {reason[:500]}", messages.SUCCESS)
        return self._back(letter_id)

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
            self.message_user(request, plan_words(plan), VERDICT_LEVELS.get(plan.verdict, messages.ERROR))

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
