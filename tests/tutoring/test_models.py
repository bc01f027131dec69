from __future__ import annotations

import datetime

import pytest
from django.db import IntegrityError, transaction

from apps.tutoring.models import TutoringSession
from tests.factories import AllocationFactory, SessionFactory

pytestmark = pytest.mark.django_db

SLOT = {"scheduled_date": datetime.date(2026, 3, 2), "scheduled_time": datetime.time(16, 30)}


def test_a_second_session_in_the_same_slot_of_an_allocation_is_rejected():
    first = SessionFactory(**SLOT)

    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        SessionFactory(allocation=first.allocation, **SLOT)

    assert "tutoring_sessions_allocation_slot_uniq" in str(excinfo.value)


def test_a_cancelled_session_still_holds_its_slot():
    first = SessionFactory(status=TutoringSession.Status.CANCELLED, **SLOT)

    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        SessionFactory(allocation=first.allocation, **SLOT)

    assert "tutoring_sessions_allocation_slot_uniq" in str(excinfo.value)


def test_moving_a_session_into_a_taken_slot_of_its_allocation_is_rejected():
    first = SessionFactory(**SLOT)
    second = SessionFactory(allocation=first.allocation, scheduled_date=SLOT["scheduled_date"])

    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        TutoringSession.objects.filter(pk=second.pk).update(scheduled_time=SLOT["scheduled_time"])

    assert "tutoring_sessions_allocation_slot_uniq" in str(excinfo.value)


def test_two_sessions_of_an_allocation_at_different_times_of_a_day_are_accepted():
    allocation = AllocationFactory()
    SessionFactory(allocation=allocation, **SLOT)

    SessionFactory(allocation=allocation, scheduled_date=SLOT["scheduled_date"], scheduled_time=datetime.time(18, 0))

    assert allocation.sessions.filter(scheduled_date=SLOT["scheduled_date"]).count() == 2


def test_a_session_shorter_than_15_minutes_is_rejected():
    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        SessionFactory(duration_minutes=14)

    assert "tutoring_sessions_duration_min" in str(excinfo.value)


def test_a_session_with_an_unknown_status_is_rejected():
    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        SessionFactory(status="rescheduled")

    assert "tutoring_sessions_status_valid" in str(excinfo.value)
