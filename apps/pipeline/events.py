"""The pipeline's last step: the student's cached lists are invalidated and the allocation is announced.

Events go through apps.realtime.services.publish_event to the student's and
trainer's logins and the ops stream (docs/realtime.md).
"""

from __future__ import annotations

import structlog

from apps.allocations.models import TrainerAllocation
from apps.payments.selectors import payment_cache_invalidate_for_student
from apps.realtime.services import OPS_GROUP, publish_event

logger = structlog.get_logger(__name__)

ALLOCATION_SCHEDULED_EVENT = "allocation.scheduled"


def pipeline_notify_allocation(*, allocation_id: int) -> None:
    """Invalidate the student's cached lists and publish the result to the student, the trainer and ops.

    Two queries, a cache write and a publish, each bounded by its Redis
    timeouts and failing open. Repeats publish again: events are at least once
    and carry the allocation id so clients can drop duplicates.
    """
    allocation = TrainerAllocation.objects.select_related("student", "trainer", "purchase").get(id=allocation_id)
    payment_cache_invalidate_for_student(student_id=allocation.student_id)
    sessions = list(allocation.sessions.order_by("scheduled_date").values_list("scheduled_date", "scheduled_time"))
    publish_event(
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
    logger.info("pipeline_event_published", event_type=ALLOCATION_SCHEDULED_EVENT, object_id=allocation.id)


def _user_ids(allocation: TrainerAllocation) -> list[int]:
    """Login accounts of the student and trainer, where the directory links them (optional field)."""
    people = (allocation.student, allocation.trainer)
    return [user_id for person in people if (user_id := getattr(person, "user_id", None))]
