"""Reads of the pipeline's resume job: the work each step left undone, and whether its call is dead-lettered."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Count, Exists, F, OuterRef, QuerySet

from apps.allocations.models import TrainerAllocation
from apps.payments.models import Payment, PaymentStatus
from apps.purchases.models import StudentCoursePurchase
from apps.workers.selectors import deadletter_open_for_call
from lib.db import sql_row


def pipeline_payments_without_purchase(*, before: datetime.datetime) -> QuerySet[Payment]:
    """Payments that succeeded before `before` and have no purchase yet."""
    return Payment.objects.filter(status=PaymentStatus.SUCCEEDED, updated_at__lt=before).exclude(
        Exists(StudentCoursePurchase.objects.filter(payment_id=OuterRef("id")))
    )


def pipeline_purchases_without_allocation(*, before: datetime.datetime) -> QuerySet[StudentCoursePurchase]:
    """Active purchases made before `before` that have no allocation yet."""
    return StudentCoursePurchase.objects.filter(is_active=True, created_at__lt=before).exclude(
        Exists(TrainerAllocation.objects.filter(purchase_id=OuterRef("id")))
    )


def pipeline_allocations_without_sessions(*, before: datetime.datetime) -> QuerySet[TrainerAllocation]:
    """Active allocations last changed before `before` with fewer sessions than their course gives."""
    return (
        TrainerAllocation.objects.filter(status=TrainerAllocation.Status.ACTIVE, updated_at__lt=before)
        .annotate(sessions_count=Count("sessions"))
        .filter(sessions_count__lt=F("course__sessions_per_purchase"))
    )


@dataclass(frozen=True)
class StalledIds:
    resumable: list[int]
    # Ids whose `task_name(id)` has an open dead letter: an operator acts first.
    skipped: int


def pipeline_stalled_ids(*, stalled: QuerySet, task_name: str, limit: int) -> StalledIds:
    """Up to `limit` ids of `stalled`, those whose `task_name(id)` has no open dead letter first. One query."""
    rows = list(
        stalled.annotate(dead_lettered=deadletter_open_for_call(task_name=task_name, arg=OuterRef("id")))
        .order_by("dead_lettered", "id")
        .values_list("id", "dead_lettered")[:limit]
    )
    resumable = [object_id for object_id, dead_lettered in rows if not dead_lettered]
    return StalledIds(resumable=resumable, skipped=len(rows) - len(resumable))


@dataclass(frozen=True)
class AllocationAnnouncement:
    """What the pipeline's last step announces about an allocation, and to whom."""

    purchase_id: int
    payment_id: int
    student_id: int
    trainer_id: int | None
    course_id: int
    student_user_id: int | None
    trainer_user_id: int | None
    session_dates: list[datetime.date]
    session_times: list[datetime.time]


# One statement for the allocation, its purchase's payment, the people's logins and its sessions: it runs once
# per pipeline, and the ORM's two queries cost a worker several times what PostgreSQL takes to run this one
# (docs/BENCHMARKS.md, "Pipeline throughput"). Both arrays list the sessions in the same order.
_ANNOUNCEMENT_SQL = """
    SELECT allocation.purchase_id, purchase.payment_id, allocation.student_id, allocation.trainer_id,
           allocation.course_id, student.user_id, trainer.user_id,
           ARRAY(SELECT session.scheduled_date FROM tutoring_sessions AS session
                 WHERE session.allocation_id = allocation.id
                 ORDER BY session.scheduled_date, session.scheduled_time, session.id),
           ARRAY(SELECT session.scheduled_time FROM tutoring_sessions AS session
                 WHERE session.allocation_id = allocation.id
                 ORDER BY session.scheduled_date, session.scheduled_time, session.id)
    FROM trainer_allocations AS allocation
    JOIN student_course_purchases AS purchase ON purchase.id = allocation.purchase_id
    JOIN students AS student ON student.id = allocation.student_id
    LEFT JOIN trainers AS trainer ON trainer.id = allocation.trainer_id
    WHERE allocation.id = %s
"""


def pipeline_announcement_for_allocation(*, allocation_id: int) -> AllocationAnnouncement | None:
    """The allocation's announcement; None when it does not exist. Runs one query
    (tutoring_sessions_allocation_slot_uniq serves the sessions)."""
    row = sql_row(_ANNOUNCEMENT_SQL, [allocation_id])
    return AllocationAnnouncement(*row) if row else None
