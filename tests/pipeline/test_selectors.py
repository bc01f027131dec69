"""What the pipeline's last step reads about an allocation, in one statement."""

from __future__ import annotations

import datetime

import pytest

from apps.pipeline.selectors import pipeline_announcement_for_allocation
from tests.factories import AllocationFactory, SessionFactory, StudentFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_an_announcement_lists_the_sessions_in_date_order_and_the_linked_logins():
    login = UserFactory()
    allocation = AllocationFactory(purchase__payment__student=StudentFactory(user=login))
    later = SessionFactory(allocation=allocation, scheduled_date=datetime.date(2027, 1, 14))
    earlier = SessionFactory(allocation=allocation, scheduled_date=datetime.date(2027, 1, 7))

    announcement = pipeline_announcement_for_allocation(allocation_id=allocation.id)

    assert announcement is not None
    assert announcement.payment_id == allocation.purchase.payment_id
    assert (announcement.student_id, announcement.trainer_id) == (allocation.student_id, allocation.trainer_id)
    assert (announcement.student_user_id, announcement.trainer_user_id) == (login.id, None)
    assert announcement.session_dates == [earlier.scheduled_date, later.scheduled_date]
    assert announcement.session_times == [earlier.scheduled_time, later.scheduled_time]


def test_an_allocation_that_does_not_exist_has_no_announcement():
    assert pipeline_announcement_for_allocation(allocation_id=0) is None
