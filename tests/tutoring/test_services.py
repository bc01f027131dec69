"""Scheduling an allocation's sessions: each slot once, and a repeat changes nothing written."""

from __future__ import annotations

import pytest
from django.db import transaction

from apps.tutoring.models import TutoringSession
from apps.tutoring.services import session_schedule_for_allocation
from tests.factories import AllocationFactory, CourseFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_scheduling_writes_each_slot_once_and_a_repeat_leaves_a_changed_session_as_it_is():
    allocation = AllocationFactory(purchase__payment__course=CourseFactory(sessions_per_purchase=3))

    with transaction.atomic():
        first = session_schedule_for_allocation(allocation_id=allocation.id)
    moved = TutoringSession.objects.filter(allocation=allocation).order_by("scheduled_date").first()
    TutoringSession.objects.filter(id=moved.id).update(status=TutoringSession.Status.CANCELLED, duration_minutes=90)
    with transaction.atomic():
        again = session_schedule_for_allocation(allocation_id=allocation.id)

    assert (first, again) == (3, 0)
    assert TutoringSession.objects.filter(allocation=allocation).count() == 3
    moved.refresh_from_db()
    assert (moved.status, moved.duration_minutes) == (TutoringSession.Status.CANCELLED, 90)
