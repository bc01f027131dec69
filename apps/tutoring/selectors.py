from __future__ import annotations

from apps.tutoring.models import TutoringSession


def session_count_for_allocation(*, allocation_id: int) -> int:
    """How many sessions an allocation has, for its replay probe
    (tutoring_sessions_allocation_slot_uniq). Runs one query."""
    return TutoringSession.objects.filter(allocation_id=allocation_id).count()
