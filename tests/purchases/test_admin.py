from __future__ import annotations

import pytest
from django.urls import reverse

from tests.admin_helpers import changelist_query_count, purchases_bulk_create
from tests.factories import PurchaseFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:purchases_studentcoursepurchase_changelist"


def test_the_purchase_changelist_runs_as_many_queries_for_500_purchases_as_for_10(staff_client):
    url = reverse(CHANGELIST)
    PurchaseFactory.create_batch(10)
    queries_for_10 = changelist_query_count(staff_client, url)
    purchases_bulk_create(490)

    queries_for_500 = changelist_query_count(staff_client, url)

    assert queries_for_500 == queries_for_10


def test_the_purchase_change_page_renders(staff_client):
    purchase = PurchaseFactory()

    response = staff_client.get(reverse("admin:purchases_studentcoursepurchase_change", args=[purchase.pk]))

    assert response.status_code == 200


def test_the_purchase_add_page_renders(staff_client):
    response = staff_client.get(reverse("admin:purchases_studentcoursepurchase_add"))

    assert response.status_code == 200


def test_a_user_who_is_not_staff_is_sent_to_the_login_page(member_client):
    url = reverse(CHANGELIST)

    response = member_client.get(url)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('admin:login')}?next={url}"
