from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import PurchaseFactory
from tests.support.admin import changelist_query_count, purchases_bulk_create

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:purchases_studentcoursepurchase_changelist"


def test_the_purchase_changelist_runs_as_many_queries_for_500_purchases_as_for_10(staff_client):
    url = reverse(CHANGELIST)
    PurchaseFactory.create_batch(10)
    queries_for_10 = changelist_query_count(staff_client, url)
    purchases_bulk_create(490)

    queries_for_500 = changelist_query_count(staff_client, url)

    assert queries_for_500 == queries_for_10
