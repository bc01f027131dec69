from __future__ import annotations

import datetime

import pytest

from apps.tutoring.models import TutoringSession
from apps.tutoring.selectors import (
    session_count_for_trainer,
    session_list_for_allocation,
    session_list_for_student,
    session_list_for_trainer_between,
)
from tests.support.plans import indexes_used

pytestmark = pytest.mark.django_db


def test_student_sessions_by_status_use_the_student_status_slot_index(seeded_platform):
    session = TutoringSession.objects.filter(status="completed").first()

    query = session_list_for_student(student_id=session.student_id, status="completed")

    assert indexes_used(query) == {"tutoring_sessions_student_status_slot_idx"}
    slots = [(s.scheduled_date, s.scheduled_time) for s in query]
    assert slots == sorted(slots)


def test_trainer_timetable_uses_the_trainer_date_index(seeded_platform):
    session = TutoringSession.objects.first()
    day = session.scheduled_date

    query = session_list_for_trainer_between(
        trainer_id=session.trainer_id, start=day, end=day + datetime.timedelta(days=6)
    )

    assert indexes_used(query) == {"tutoring_sessions_trainer_date_idx"}
    assert session in list(query)


def test_trainer_sessions_by_status_use_the_trainer_status_index(seeded_platform):
    session = TutoringSession.objects.filter(status="completed").first()
    query = TutoringSession.objects.filter(trainer_id=session.trainer_id, status="completed")

    assert indexes_used(query) == {"tutoring_sessions_trainer_status_idx"}
    assert session_count_for_trainer(trainer_id=session.trainer_id, status="completed") >= 1


def test_allocation_sessions_use_the_allocation_slot_unique_index(seeded_platform):
    session = TutoringSession.objects.first()

    query = session_list_for_allocation(allocation_id=session.allocation_id)

    assert indexes_used(query) == {"tutoring_sessions_allocation_slot_uniq"}
    assert session in list(query)
