from __future__ import annotations

import datetime

from django.db.models import QuerySet

from apps.tutoring.models import TutoringSession


def session_list_for_student(
    *, student_id: int, status: str = TutoringSession.Status.SCHEDULED, limit: int = 50
) -> QuerySet[TutoringSession]:
    """A student's sessions in one status, in slot order (tutoring_sessions_student_status_slot_idx)."""
    return TutoringSession.objects.filter(student_id=student_id, status=status).order_by(
        "scheduled_date", "scheduled_time"
    )[:limit]


def session_list_for_trainer_between(
    *, trainer_id: int, start: datetime.date, end: datetime.date
) -> QuerySet[TutoringSession]:
    """A trainer's timetable for a date range (tutoring_sessions_trainer_date_idx)."""
    return TutoringSession.objects.filter(trainer_id=trainer_id, scheduled_date__range=(start, end)).order_by(
        "scheduled_date", "scheduled_time"
    )


def session_count_for_trainer(*, trainer_id: int, status: str) -> int:
    """How many of a trainer's sessions are in a status (tutoring_sessions_trainer_status_idx). Runs one query."""
    return TutoringSession.objects.filter(trainer_id=trainer_id, status=status).count()


def session_list_for_allocation(*, allocation_id: int) -> QuerySet[TutoringSession]:
    """An allocation's sessions in slot order (tutoring_sessions_allocation_slot_uniq)."""
    return TutoringSession.objects.filter(allocation_id=allocation_id).order_by("scheduled_date", "scheduled_time")
