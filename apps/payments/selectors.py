from __future__ import annotations

from django.db.models import QuerySet

from apps.payments.models import Payment


def payment_list_for_student(*, student_id: int, status: str, limit: int = 50) -> QuerySet[Payment]:
    """A student's payments in one status, newest first (payments_student_status_created_idx)."""
    return Payment.objects.filter(student_id=student_id, status=status).order_by("-created_at")[:limit]


def payment_get_by_provider_id(*, provider_payment_id: str) -> Payment | None:
    """The payment a provider webhook refers to (payments_provider_payment_id_uniq). Runs one query."""
    return Payment.objects.filter(provider_payment_id=provider_payment_id).first()
