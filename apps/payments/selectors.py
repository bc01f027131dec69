from __future__ import annotations

import datetime

from django.db.models import QuerySet

from apps.payments.models import Payment


def payment_list_for_student(*, student_id: int, status: str, limit: int = 50) -> QuerySet[Payment]:
    """A student's payments in one status, newest first (payments_student_status_created_idx)."""
    return Payment.objects.filter(student_id=student_id, status=status).order_by("-created_at")[:limit]


def payment_get_by_provider_id(*, provider_payment_id: str) -> Payment | None:
    """The payment a provider webhook refers to (payments_provider_payment_id_uniq). Runs one query."""
    return Payment.objects.filter(provider_payment_id=provider_payment_id).first()


def payment_list_stuck(*, status: str, older_than: datetime.datetime, limit: int = 500) -> QuerySet[Payment]:
    """Payments left in `status` since before `older_than`, oldest first, for reconciliation
    (payments_status_created_idx)."""
    return Payment.objects.filter(status=status, created_at__lt=older_than).order_by("created_at")[:limit]


def payment_list_recent(*, limit: int = 100) -> QuerySet[Payment]:
    """All payments, newest first, as operators page through them (payments_created_idx)."""
    return Payment.objects.order_by("-created_at", "-id")[:limit]
