"""An allocation gets Course.sessions_per_purchase weekly sessions (a pipeline step, apps/pipeline/steps.py).

Concurrency, in order:
1. The allocation row is locked until the caller's transaction ends, so
   deliveries of this step run one at a time.
2. The slots are a pure function of the allocation (its date, weekly, at
   SESSION_TIME), and are inserted with ON CONFLICT DO NOTHING on
   tutoring_sessions_allocation_slot_uniq: however many runs race, each slot
   exists once.
"""

from __future__ import annotations

import datetime
from functools import partial
from typing import Any

import structlog
from django.db import connection, transaction
from django.utils import timezone

from apps.allocations.models import TrainerAllocation
from apps.allocations.selectors import allocation_get_with_course
from apps.directory.selectors import student_user_id_list, trainer_user_id_list
from apps.realtime.services import OPS_GROUP, publish_event
from apps.tutoring.models import TutoringSession
from apps.tutoring.selectors import session_count_for_allocation, session_lock_allocation
from apps.workers.retry import AlreadyDone

logger = structlog.get_logger(__name__)

SESSION_CHANGED_EVENT = "session.changed"
SESSION_TIME = datetime.time(17, 0)
FIRST_SESSION_AFTER = datetime.timedelta(days=7)


# Written in SQL, as the lock before it (session_lock_allocation): the ORM's bulk insert cost a worker several
# times what PostgreSQL takes to run it (docs/BENCHMARKS.md, "Pipeline throughput"). Every column without a
# database default is named; a slot that exists is skipped, any other conflict fails the step.
_INSERT_SESSIONS_SQL = """
    INSERT INTO tutoring_sessions (
        allocation_id, student_id, trainer_id, course_id, scheduled_date, scheduled_time, duration_minutes,
        status, created_at, updated_at
    )
    SELECT %(allocation_id)s, %(student_id)s, %(trainer_id)s, %(course_id)s, day, %(time)s::time, %(minutes)s,
           %(status)s, now(), now()
    FROM unnest(%(days)s::date[]) AS day
    ON CONFLICT ON CONSTRAINT tutoring_sessions_allocation_slot_uniq DO NOTHING
"""


def session_schedule_for_allocation(*, allocation_id: int) -> int:
    """Write the allocation's sessions, leaving the slots that exist as they are; returns how many it wrote.
    Two queries.

    Inside a caller's transaction (the pipeline step's) it takes no savepoint: a
    failure here fails the caller's whole transaction, which never goes on after one.
    """
    with transaction.atomic(savepoint=False):
        # 1. One scheduler per allocation at a time.
        allocation = session_lock_allocation(allocation_id=allocation_id)
        if allocation is None:
            raise TrainerAllocation.DoesNotExist(f"allocation {allocation_id} does not exist")
        if allocation.status != TrainerAllocation.Status.ACTIVE:
            raise AlreadyDone(f"allocation {allocation_id} is {allocation.status}")
        assert allocation.trainer_id is not None  # trainer_allocations_active_has_trainer
        # 2. Deterministic slots, all of them every time: the unique constraint skips those that exist.
        days = session_days(allocation.started_at, allocation.sessions_per_purchase)
        with connection.cursor() as cursor:
            cursor.execute(
                _INSERT_SESSIONS_SQL,
                {
                    "allocation_id": allocation_id,
                    "student_id": allocation.student_id,
                    "trainer_id": allocation.trainer_id,
                    "course_id": allocation.course_id,
                    "time": SESSION_TIME.isoformat(),
                    "minutes": allocation.session_minutes,
                    "status": str(TutoringSession.Status.SCHEDULED.value),
                    "days": days,
                },
            )
            created = cursor.rowcount
        logger.info("sessions_scheduled", allocation_id=allocation_id, created=created)
    return created


def session_days(started_at: datetime.datetime, count: int) -> list[datetime.date]:
    """`count` weekly dates, starting a week after the allocation started."""
    start = timezone.localdate(started_at) + FIRST_SESSION_AFTER
    return [start + datetime.timedelta(weeks=n) for n in range(count)]


def sessions_applied_for_allocation(allocation_id: int) -> str | None:
    """Idempotency probe for replays: the allocation already has all its sessions."""
    allocation = allocation_get_with_course(allocation_id=allocation_id)
    if allocation is None:
        return None
    count = session_count_for_allocation(allocation_id=allocation_id)
    if count >= allocation.course.sessions_per_purchase:
        return f"allocation {allocation_id} already has its {count} sessions"
    return None


def session_announce_change(
    *,
    session: TutoringSession,
    changed: list[str],
    previous_student_id: int | None = None,
    previous_trainer_id: int | None = None,
) -> None:
    """Publish `session.changed` to the student's and trainer's logins and ops once the transaction commits.

    A session moved to another student or trainer is announced to the previous
    one too. Reads the logins (two queries).
    """
    students = {id_ for id_ in (session.student_id, previous_student_id) if id_ is not None}
    trainers = {id_ for id_ in (session.trainer_id, previous_trainer_id) if id_ is not None}
    logins = [
        *student_user_id_list(student_ids=students),
        *trainer_user_id_list(trainer_ids=trainers),
    ]
    event: dict[str, Any] = {
        "event_type": SESSION_CHANGED_EVENT,
        "object_id": session.id,
        "data": {
            "session_id": session.id,
            "allocation_id": session.allocation_id,
            "student_id": session.student_id,
            "trainer_id": session.trainer_id,
            "course_id": session.course_id,
            "scheduled_at": f"{session.scheduled_date.isoformat()}T{session.scheduled_time.isoformat()}",
            "duration_minutes": session.duration_minutes,
            "status": session.status,
            "changed": sorted(changed),
        },
        "user_ids": logins,
        "groups": [OPS_GROUP],
    }
    transaction.on_commit(partial(publish_event, **event), robust=True)
