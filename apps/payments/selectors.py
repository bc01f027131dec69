from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.core.cache import cache
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery

from apps.payments.models import IN_FLIGHT_STATUSES, Payment, PaymentStatus
from apps.purchases.models import StudentCoursePurchase


def payment_list_for_student(*, student_id: int, status: str, limit: int = 50) -> QuerySet[Payment]:
    """A student's payments in one status, newest first (payments_student_status_created_idx)."""
    return Payment.objects.filter(student_id=student_id, status=status).order_by("-created_at")[:limit]


def payment_get(*, payment_id: int) -> Payment | None:
    """One payment by id (primary key). Runs one query."""
    return Payment.objects.filter(id=payment_id).first()


def payment_get_by_provider_id(*, provider_payment_id: str) -> Payment | None:
    """The payment a provider webhook refers to (payments_provider_payment_id_uniq). Runs one query."""
    return Payment.objects.filter(provider_payment_id=provider_payment_id).first()


def payment_get_in_flight(*, student_id: int, course_id: int) -> Payment | None:
    """The student's payment for a course still waiting on the provider (payments_student_course_in_flight_uniq).
    Runs one query."""
    return Payment.objects.filter(student_id=student_id, course_id=course_id, status__in=IN_FLIGHT_STATUSES).first()


@dataclass(frozen=True)
class CoursePaid:
    payment_id: int
    active_purchase_id: int | None  # None: succeeded, the pipeline has not made its purchase yet


def payment_get_paying_for_course(*, student_id: int, course_id: int) -> CoursePaid | None:
    """The payment that already pays for a student's course: one whose purchase is active,
    or a succeeded one the pipeline has not turned into a purchase yet.

    One statement, so one snapshot: a purchase the pipeline commits between two reads
    cannot hide from both (payments_student_status_created_idx, then
    student_course_purchases_payment_uniq). Runs one query.
    """
    purchases = StudentCoursePurchase.objects.filter(payment_id=OuterRef("id"))
    row = (
        Payment.objects.filter(student_id=student_id, course_id=course_id)
        .annotate(active_purchase_id=Subquery(purchases.filter(is_active=True).values("id")[:1]))
        .filter(Q(active_purchase_id__isnull=False) | (Q(status=PaymentStatus.SUCCEEDED) & ~Exists(purchases)))
        .order_by(F("active_purchase_id").desc(nulls_last=True), "-created_at")
        .values_list("id", "active_purchase_id")
        .first()
    )
    return CoursePaid(*row) if row else None


def payment_get_by_idempotency_key(*, idempotency_key: str) -> Payment | None:
    """The payment created under a client's Idempotency-Key (payments_idempotency_key_uniq). Runs one query."""
    return Payment.objects.filter(idempotency_key=idempotency_key).first()


def payment_list_stuck(*, updated_before: datetime.datetime, limit: int = 500) -> QuerySet[Payment]:
    """Payments still in flight (created or pending) and unchanged since `updated_before`, longest stuck first,
    for reconciliation (payments_status_updated_idx)."""
    return Payment.objects.filter(status__in=IN_FLIGHT_STATUSES, updated_at__lt=updated_before).order_by("updated_at")[
        :limit
    ]


# --- Cached reads for the API -------------------------------------------------
# A student's lists are cached under a per-student version; invalidation bumps
# the version (one O(1) Redis call) instead of hunting for keys. The cache
# fails open, so a Redis outage means a database read, never an error.

STUDENT_LIST_CACHE_SECONDS = 60


def _student_version_key(student_id: int) -> str:
    return f"payments:student:{student_id}:version"


def payment_list_for_student_cached(*, student_id: int, status: str, limit: int = 50) -> list[dict[str, object]]:
    """payment_list_for_student, serialized, through the cache."""
    version = cache.get(_student_version_key(student_id), 0)
    key = f"payments:student:{student_id}:v{version}:{status}:{limit}"
    rows = cache.get(key)
    if rows is None:
        rows = [payment_to_dict(p) for p in payment_list_for_student(student_id=student_id, status=status, limit=limit)]
        cache.set(key, rows, STUDENT_LIST_CACHE_SECONDS)
    return rows


def payment_cache_invalidate_for_student(*, student_id: int) -> None:
    key = _student_version_key(student_id)
    cache.add(key, 0, timeout=None)
    try:
        cache.incr(key)
    except ValueError:  # the key vanished between add and incr: start over
        cache.set(key, 1, timeout=None)


def payment_to_dict(payment: Payment) -> dict[str, object]:
    return {
        "id": payment.id,
        "student_id": payment.student_id,
        "course_id": payment.course_id,
        "amount": str(payment.amount),
        "currency": payment.currency,
        "status": payment.status,
        "provider": payment.provider,
        "provider_payment_id": payment.provider_payment_id,
        "created_at": payment.created_at.isoformat(),
        "updated_at": payment.updated_at.isoformat(),
    }
