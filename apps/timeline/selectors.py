"""Reads of the timeline: one payment's whole story, and finding a payment by any of its keys.

Every read runs in one transaction under TIMELINE_SQL_TIMEOUT, with a constant
number of queries (each on an index) whatever the payment caused.
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings

from apps.allocations.models import TrainerAllocation
from apps.payments.models import Payment
from apps.purchases.models import StudentCoursePurchase
from apps.timeline.models import TimelineEvent
from apps.timeline.recorder import subject
from apps.tutoring.models import TutoringSession
from lib.db import BIGINT_MAX, statement_timeout

# Events shown for one payment, oldest first; a payment with more says so (`truncated`).
EVENTS_LIMIT = 500
SESSIONS_LIMIT = 50
FOUND_LIMIT = 20
QUERY_MAX = 128
_SUBJECT = re.compile(r"^(payment|purchase|allocation):(\d+)$")


def payment_timeline(*, payment_id: int) -> dict[str, Any] | None:
    """The payment, what it caused (purchase, allocations, sessions) and its events in time order; None if unknown.

    Six queries under TIMELINE_SQL_TIMEOUT, each on an index: the payment, its
    purchases (payment unique), their allocations (purchase_idx), their sessions
    (allocation slot unique), the events (subject, occurred_at) and the
    statement timeout itself.
    """
    with statement_timeout(settings.TIMELINE_SQL_TIMEOUT):
        payment = Payment.objects.select_related("student", "course").filter(id=payment_id).first()
        if payment is None:
            return None
        purchases = list(StudentCoursePurchase.objects.filter(payment_id=payment_id).order_by("id"))
        allocations = list(
            TrainerAllocation.objects.filter(purchase_id__in=[p.id for p in purchases])
            .select_related("trainer")
            .order_by("id")
        )
        sessions = list(
            TutoringSession.objects.filter(allocation_id__in=[a.id for a in allocations]).order_by(
                "scheduled_date", "scheduled_time", "id"
            )[: SESSIONS_LIMIT + 1]
        )
        subjects = [
            subject("payment", payment.id),
            *(subject("purchase", p.id) for p in purchases),
            *(subject("allocation", a.id) for a in allocations),
        ]
        events = list(
            TimelineEvent.objects.filter(subject__in=subjects).order_by("occurred_at", "id")[: EVENTS_LIMIT + 1]
        )
    return {
        "payment": _payment_row(payment),
        "purchases": [_purchase_row(p) for p in purchases],
        "allocations": [_allocation_row(a) for a in allocations],
        "sessions": [_session_row(s) for s in sessions[:SESSIONS_LIMIT]],
        "sessions_truncated": len(sessions) > SESSIONS_LIMIT,
        "correlation_ids": _correlation_ids(events),
        "events": [_event_row(e) for e in events[:EVENTS_LIMIT]],
        "events_truncated": len(events) > EVENTS_LIMIT,
    }


def timeline_find_payments(*, query: str) -> list[int]:
    """Payment ids matching `query`: a payment id, a provider payment id, an idempotency key or a correlation id.

    Each is an exact match on a unique index (payments) or the timeline's
    correlation index; at most FOUND_LIMIT ids, newest first. Raises ValueError
    for an empty or over-long query. At most six queries.
    """
    query = query.strip()
    if not query or len(query) > QUERY_MAX:
        raise ValueError(f"Search for 1 to {QUERY_MAX} characters.")
    with statement_timeout(settings.TIMELINE_SQL_TIMEOUT):
        numeric = query.isascii() and query.isdigit() and 0 < int(query) <= BIGINT_MAX
        if numeric and Payment.objects.filter(id=int(query)).exists():
            return [int(query)]
        for field in ("provider_payment_id", "idempotency_key"):
            keyed = list(Payment.objects.filter(**{field: query}).values_list("id", flat=True)[:1])
            if keyed:
                return keyed
        return _payments_of_correlation(query)


def _payments_of_correlation(correlation_id: str) -> list[int]:
    subjects = set(
        TimelineEvent.objects.filter(correlation_id=correlation_id)
        .order_by("-occurred_at")
        .values_list("subject", flat=True)[:200]
    )
    by_kind: dict[str, set[int]] = {"payment": set(), "purchase": set(), "allocation": set()}
    for value in subjects:
        match = _SUBJECT.match(value)
        if match:
            by_kind[match[1]].add(int(match[2]))
    if by_kind["allocation"]:
        by_kind["purchase"] |= set(
            TrainerAllocation.objects.filter(id__in=by_kind["allocation"]).values_list("purchase_id", flat=True)
        )
    if by_kind["purchase"]:
        by_kind["payment"] |= set(
            StudentCoursePurchase.objects.filter(id__in=by_kind["purchase"]).values_list("payment_id", flat=True)
        )
    return sorted(by_kind["payment"], reverse=True)[:FOUND_LIMIT]


def _correlation_ids(events: list[TimelineEvent]) -> list[dict[str, Any]]:
    """Each correlation id on the timeline, first seen first, with how many events carry it."""
    seen: dict[str, dict[str, Any]] = {}
    for event in events:
        if event.correlation_id:
            row = seen.setdefault(
                event.correlation_id,
                {"id": event.correlation_id, "first_at": event.occurred_at.isoformat(), "events": 0},
            )
            row["events"] += 1
    return list(seen.values())


def _payment_row(payment: Payment) -> dict[str, Any]:
    return {
        "id": payment.id,
        "status": payment.status,
        "amount": str(payment.amount),
        "currency": payment.currency,
        "student_id": payment.student_id,
        "student": str(payment.student),
        "course_id": payment.course_id,
        "course": str(payment.course),
        "provider": payment.provider,
        "provider_payment_id": payment.provider_payment_id,
        "idempotency_key": payment.idempotency_key,
        "created_at": payment.created_at.isoformat(),
        "updated_at": payment.updated_at.isoformat(),
    }


def _purchase_row(purchase: StudentCoursePurchase) -> dict[str, Any]:
    return {"id": purchase.id, "is_active": purchase.is_active, "created_at": purchase.created_at.isoformat()}


def _allocation_row(allocation: TrainerAllocation) -> dict[str, Any]:
    return {
        "id": allocation.id,
        "purchase_id": allocation.purchase_id,
        "status": allocation.status,
        "trainer_id": allocation.trainer_id,
        "trainer": str(allocation.trainer) if allocation.trainer else None,
        "allocated_at": allocation.allocated_at.isoformat() if allocation.allocated_at else None,
    }


def _session_row(session: TutoringSession) -> dict[str, Any]:
    return {
        "id": session.id,
        "allocation_id": session.allocation_id,
        "at": f"{session.scheduled_date.isoformat()}T{session.scheduled_time.isoformat()}",
        "status": session.status,
    }


def _event_row(event: TimelineEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "at": event.occurred_at.isoformat(),
        "subject": event.subject,
        "kind": event.kind,
        "name": event.name,
        "actor": event.actor or None,
        "correlation_id": event.correlation_id or None,
        "detail": event.detail,
        "summary": event_summary(event),
    }


def event_summary(event: TimelineEvent) -> str:
    """The event in words, as the page shows it."""
    detail = event.detail or {}
    if event.kind == TimelineEvent.Kind.STATE:
        origin = detail.get("from")
        moved = f"{origin} → {event.name}" if origin else f"created ({detail.get('amount')} {detail.get('currency')})"
        return f"{moved} by {event.actor or 'unknown'}"
    if event.kind == TimelineEvent.Kind.PROVIDER:
        attempts = detail.get("attempts") or []
        breaker = attempts[-1].get("breaker") if attempts else None
        return (
            f"provider {event.name}: {detail.get('outcome')} in {detail.get('duration_ms')} ms, "
            f"{len(attempts)} attempt{'s' if len(attempts) != 1 else ''}, breaker {breaker or 'unknown'}"
        )
    if event.kind == TimelineEvent.Kind.TASK:
        words = f"{event.actor} {event.name.replace('_', ' ')}"
        if detail.get("attempt"):
            words += f" (attempt {detail['attempt']})"
        if detail.get("error_class"):
            words += f": {detail['error_class']}: {detail.get('error', '')}"
        if detail.get("reason"):
            words += f" ({detail['reason']})"
        return words
    groups = detail.get("groups") or []
    if detail.get("published") is False:
        return f"{event.name} dropped (Redis did not take it)"
    return f"{event.name} pushed to {len(groups)} group{'s' if len(groups) != 1 else ''}"
