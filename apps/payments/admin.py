from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.directory.models import Course
from apps.payments.models import Payment, PaymentStatus
from apps.payments.services import IllegalTransition, payment_change_status_by_operator
from lib.admin import IndexedSearchAdmin, ReadOnlyAdminMixin, values_filter

# An action changes at most this many payments per click: each is a locked, audited transition.
STATUS_ACTION_MAX = 100


class PaymentActionForm(ActionForm):
    status = forms.ChoiceField(
        choices=[("", "---------"), *PaymentStatus.choices],
        required=False,
        help_text="New status, for 'Change status'. The state machine decides what is allowed.",
    )


def _course_currencies() -> list[str]:
    """Every payment's currency is its course's: read from the courses (a small table)."""
    return list(Course.objects.order_by("currency").values_list("currency", flat=True).distinct())


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdminMixin, IndexedSearchAdmin):
    """A ledger: payments are never added, edited or deleted here; status changes go through payment_settle."""

    list_display = ("id", "student", "course", "amount", "currency", "status", "provider", "created_at")
    # Each filter is served by an index that also gives the list's order (status/currency, created_at DESC, id DESC).
    # No provider filter: one provider is configured, and its values would need a DISTINCT over every payment.
    list_filter = ("status", values_filter("currency", _course_currencies), "created_at")
    sortable_by = ("id", "created_at")
    list_select_related = ("student", "course")
    search_fields = ("student__email",)
    search_email_path = "student__email"
    search_keys = ("provider_payment_id", "idempotency_key")
    search_help_text = (
        "Id, a student's whole email (any case), or an exact provider payment id or idempotency key. "
        "Part of an email or key is not searched."
    )
    show_full_result_count = False
    actions = ["change_status"]
    action_form = PaymentActionForm

    @admin.action(description="Change status of selected payments (through the state machine; audited)")
    def change_status(self, request: HttpRequest, queryset: QuerySet[Payment]) -> None:
        status = request.POST.get("status", "")
        if status not in PaymentStatus.values:
            self.message_user(request, "Choose the new status first.", messages.ERROR)
            return
        changed = 0
        for payment_id in queryset.values_list("id", flat=True)[:STATUS_ACTION_MAX]:
            try:
                payment, moved = payment_change_status_by_operator(
                    payment_id=payment_id, status=status, actor_id=request.user.pk, actor=str(request.user)
                )
            except IllegalTransition as exc:
                self.message_user(request, f"Payment {payment_id}: {exc}", messages.ERROR)
                continue
            if moved:
                changed += 1
                self.log_change(request, payment, f"Status changed to {status} through payment_settle.")
        self.message_user(request, f"{changed} payment(s) now {status}.", messages.SUCCESS)
