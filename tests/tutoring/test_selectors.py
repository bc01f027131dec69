from __future__ import annotations

import pytest

from apps.tutoring.models import TutoringSession
from apps.tutoring.selectors import session_count_for_allocation
from tests.support.plans import indexes_used_by

pytestmark = pytest.mark.django_db


def test_an_allocations_sessions_are_counted_through_the_allocation_slot_unique_index(seeded_platform):
    session = TutoringSession.objects.first()

    used = indexes_used_by(lambda: session_count_for_allocation(allocation_id=session.allocation_id))

    assert used == {"tutoring_sessions_allocation_slot_uniq"}
