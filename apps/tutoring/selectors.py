from __future__ import annotations

import datetime
from dataclasses import dataclass

from apps.tutoring.models import TutoringSession
from lib.db import sql_row


def session_count_for_allocation(*, allocation_id: int) -> int:
    """How many sessions an allocation has, for its replay probe
    (tutoring_sessions_allocation_slot_uniq). Runs one query."""
    return TutoringSession.objects.filter(allocation_id=allocation_id).count()


@dataclass(frozen=True)
class AllocationToSchedule:
    status: str
    student_id: int
    trainer_id: int | None
    course_id: int
    started_at: datetime.datetime  # allocated_at, or created_at for one allocated without a time
    sessions_per_purchase: int
    session_minutes: int


def session_lock_allocation(*, allocation_id: int) -> AllocationToSchedule | None:
    """Lock the allocation's row until the transaction ends, and read its course's session plan; None when it
    does not exist. Only the allocation's row: locking the course too would serialise every scheduler and
    allocator of the course (their inserts key-share it). Written in SQL: it runs once per allocation, and the
    ORM's query cost a worker three times what PostgreSQL takes to run it (docs/BENCHMARKS.md). Runs one query."""
    row = sql_row(
        """
        SELECT allocation.status, allocation.student_id, allocation.trainer_id, allocation.course_id,
               coalesce(allocation.allocated_at, allocation.created_at),
               course.sessions_per_purchase, course.session_minutes
        FROM trainer_allocations AS allocation JOIN courses AS course ON course.id = allocation.course_id
        WHERE allocation.id = %s
        FOR UPDATE OF allocation
        """,
        [allocation_id],
    )
    return AllocationToSchedule(*row) if row else None
