"""The purchase pipeline's ends: starting it for a payment, announcing its result, and resuming stalls.

    payment succeeded -> purchases.create_from_payment -> allocations.assign_trainer
    -> tutoring.schedule_sessions -> pipeline.notify_allocation (cache + event)

Each step lives in its app's services; each writes the next to the outbox
(apps/outbox) in its own transaction, so a hand-off is never lost to a broker
outage or a crash between commit and enqueue.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import structlog
from django.db.models import Count, Exists, F, OuterRef, QuerySet
from django.utils import timezone

from apps.allocations.models import TrainerAllocation
from apps.deadletters.selectors import deadletter_open_for_call
from apps.outbox.services import outbox_enqueue
from apps.payments.models import Payment, PaymentStatus
from apps.payments.selectors import payment_cache_invalidate_for_student
from apps.pipeline.events import pipeline_publish_event
from apps.purchases.models import StudentCoursePurchase
from apps.realtime.services import OPS_GROUP  # the staff console's live feed

logger = structlog.get_logger(__name__)

ALLOCATION_SCHEDULED_EVENT = "allocation.scheduled"


def pipeline_start_for_payment(*, payment_id: int) -> None:
    """Step 1 for a succeeded payment, through the outbox: call it in the transaction that settles the payment."""
    outbox_enqueue(task_name="purchases.create_from_payment", args=[payment_id])


def pipeline_notify_allocation(*, allocation_id: int) -> bool:
    """Invalidate the student's cached lists and publish the result to the student and the trainer.

    Repeats publish again: events are at-least-once and carry the allocation id
    so clients can drop duplicates.
    """
    allocation = TrainerAllocation.objects.select_related("student", "trainer", "purchase").get(id=allocation_id)
    payment_cache_invalidate_for_student(student_id=allocation.student_id)
    sessions = list(allocation.sessions.order_by("scheduled_date").values_list("scheduled_date", "scheduled_time"))
    return pipeline_publish_event(
        event_type=ALLOCATION_SCHEDULED_EVENT,
        object_id=allocation.id,
        data={
            "allocation_id": allocation.id,
            "purchase_id": allocation.purchase_id,
            "payment_id": allocation.purchase.payment_id,
            "student_id": allocation.student_id,
            "trainer_id": allocation.trainer_id,
            "course_id": allocation.course_id,
            "sessions": [f"{day.isoformat()}T{time.isoformat()}" for day, time in sessions],
        },
        user_ids=_user_ids(allocation),
        groups=(OPS_GROUP,),
    )


def _user_ids(allocation: TrainerAllocation) -> list[int]:
    """Login accounts of the student and trainer, where the directory links them (optional field)."""
    people = (allocation.student, allocation.trainer)
    return [user_id for person in people if (user_id := getattr(person, "user_id", None))]


@dataclass(frozen=True)
class ResumeSummary:
    purchases: int
    allocations: int
    schedules: int
    # Stalled steps left alone because their task has an open dead letter: an operator acts first.
    skipped: int = 0


def pipeline_resume_stalled(*, older_than: datetime.timedelta, limit: int = 500) -> ResumeSummary:
    """Re-enqueue steps whose hand-off was lost (a crash between commit and enqueue). Three queries.

    Beat runs this; every step is idempotent, so an enqueue for work already
    under way costs one no-op task. A step whose task and id have an open dead
    letter failed for good: it is skipped (each query checks, resumable rows
    first), or beat would file the same failure every five minutes.
    """
    from apps.allocations.tasks import allocations_assign_trainer
    from apps.purchases.tasks import purchases_create_from_payment
    from apps.tutoring.tasks import tutoring_schedule_sessions

    cutoff = timezone.now() - older_than
    payments = _split_dead_lettered(
        Payment.objects.filter(status=PaymentStatus.SUCCEEDED, updated_at__lt=cutoff).exclude(
            Exists(StudentCoursePurchase.objects.filter(payment_id=OuterRef("id")))
        ),
        purchases_create_from_payment.name,
        limit,
    )
    purchases = _split_dead_lettered(
        StudentCoursePurchase.objects.filter(is_active=True, created_at__lt=cutoff).exclude(
            Exists(TrainerAllocation.objects.filter(purchase_id=OuterRef("id")))
        ),
        allocations_assign_trainer.name,
        limit,
    )
    allocations = _split_dead_lettered(
        TrainerAllocation.objects.filter(status=TrainerAllocation.Status.ACTIVE, updated_at__lt=cutoff)
        .annotate(sessions_count=Count("sessions"))
        .filter(sessions_count__lt=F("course__sessions_per_purchase")),
        tutoring_schedule_sessions.name,
        limit,
    )
    for payment_id in payments.resumable:
        purchases_create_from_payment.delay(payment_id)
    for purchase_id in purchases.resumable:
        allocations_assign_trainer.delay(purchase_id)
    for allocation_id in allocations.resumable:
        tutoring_schedule_sessions.delay(allocation_id)
    summary = ResumeSummary(
        purchases=len(payments.resumable),
        allocations=len(purchases.resumable),
        schedules=len(allocations.resumable),
        skipped=payments.skipped + purchases.skipped + allocations.skipped,
    )
    logger.info("pipeline_resumed", **summary.__dict__)
    return summary


@dataclass(frozen=True)
class _Stalled:
    resumable: list[int]
    skipped: int


def _split_dead_lettered(stalled: QuerySet, task_name: str, limit: int) -> _Stalled:
    """Up to `limit` stalled ids, those whose `task_name(id)` has no open dead letter first. One query."""
    rows = list(
        stalled.annotate(dead_lettered=deadletter_open_for_call(task_name=task_name, arg=OuterRef("id")))
        .order_by("dead_lettered", "id")
        .values_list("id", "dead_lettered")[:limit]
    )
    resumable = [object_id for object_id, dead_lettered in rows if not dead_lettered]
    return _Stalled(resumable=resumable, skipped=len(rows) - len(resumable))
