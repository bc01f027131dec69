"""The pipeline's last step: the student's cached lists are invalidated and the allocation is announced.

Events go through apps.realtime.services.publish_event to the student's and
trainer's logins and the ops stream (docs/realtime.md).
"""

from __future__ import annotations

import structlog

from apps.allocations.models import TrainerAllocation
from apps.payments.selectors import payment_cache_invalidate_for_student
from apps.pipeline.selectors import pipeline_announcement_for_allocation
from apps.realtime.services import OPS_GROUP, publish_event

logger = structlog.get_logger(__name__)

ALLOCATION_SCHEDULED_EVENT = "allocation.scheduled"


def pipeline_notify_allocation(*, allocation_id: int) -> None:
    """Invalidate the student's cached lists and publish the result to the student, the trainer and ops.

    One query, a cache write and a publish, each bounded by its Redis
    timeouts and failing open. Repeats publish again: events are at least once
    and carry the allocation id so clients can drop duplicates.
    """
    allocation = pipeline_announcement_for_allocation(allocation_id=allocation_id)
    if allocation is None:
        raise TrainerAllocation.DoesNotExist(f"allocation {allocation_id} does not exist")
    payment_cache_invalidate_for_student(student_id=allocation.student_id)
    slots = zip(allocation.session_dates, allocation.session_times, strict=True)
    publish_event(
        event_type=ALLOCATION_SCHEDULED_EVENT,
        object_id=allocation_id,
        data={
            "allocation_id": allocation_id,
            "purchase_id": allocation.purchase_id,
            "payment_id": allocation.payment_id,
            "student_id": allocation.student_id,
            "trainer_id": allocation.trainer_id,
            "course_id": allocation.course_id,
            "sessions": [f"{day.isoformat()}T{time.isoformat()}" for day, time in slots],
        },
        # The student's and trainer's logins, where the directory links them.
        user_ids=[user_id for user_id in (allocation.student_user_id, allocation.trainer_user_id) if user_id],
        groups=(OPS_GROUP,),
    )
    logger.info("pipeline_event_published", event_type=ALLOCATION_SCHEDULED_EVENT, object_id=allocation_id)
