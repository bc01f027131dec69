from __future__ import annotations

import datetime

from apps.tutoring.models import TutoringSession


def session_count_for_allocation(*, allocation_id: int) -> int:
    """How many sessions an allocation has, for scheduling and its replay probe
    (tutoring_sessions_allocation_slot_uniq). Runs one query."""
    return TutoringSession.objects.filter(allocation_id=allocation_id).count()


def session_slots_for_allocation(*, allocation_id: int) -> set[tuple[datetime.date, datetime.time]]:
    """The (date, time) slots an allocation's sessions take (tutoring_sessions_allocation_slot_uniq). Runs one query."""
    return set(
        TutoringSession.objects.filter(allocation_id=allocation_id).values_list("scheduled_date", "scheduled_time")
    )
