from __future__ import annotations

import factory
import pytest
from django.urls import reverse

from apps.allocations.models import TrainerAllocation
from tests.factories import AllocationFactory, TrainerFactory
from tests.support.admin import changelist_query_count, purchases_bulk_create

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:allocations_trainerallocation_changelist"


def test_the_allocation_changelist_runs_as_many_queries_for_500_allocations_as_for_10(staff_client):
    url = reverse(CHANGELIST)
    AllocationFactory.create_batch(10)
    queries_for_10 = changelist_query_count(staff_client, url)
    purchases = purchases_bulk_create(490)
    TrainerAllocation.objects.bulk_create(
        AllocationFactory.build_batch(490, purchase=factory.Iterator(purchases), trainer=TrainerFactory())
    )

    queries_for_500 = changelist_query_count(staff_client, url)

    assert queries_for_500 == queries_for_10
