from __future__ import annotations

import pytest
from django.urls import reverse

from apps.tutoring.models import TutoringSession
from tests.factories import AllocationFactory, SessionFactory
from tests.support.admin import changelist_query_count

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:tutoring_tutoringsession_changelist"


def test_the_session_changelist_runs_as_many_queries_for_500_sessions_as_for_10(staff_client):
    url = reverse(CHANGELIST)
    SessionFactory.create_batch(10)
    queries_for_10 = changelist_query_count(staff_client, url)
    TutoringSession.objects.bulk_create(SessionFactory.build_batch(490, allocation=AllocationFactory()))

    queries_for_500 = changelist_query_count(staff_client, url)

    assert queries_for_500 == queries_for_10
