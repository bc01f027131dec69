"""Large tables' admin lists: counts capped and said to be estimates, pages bounded, only indexed sorts, no DISTINCT."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.payments.admin import PaymentAdmin
from apps.payments.models import Payment
from lib.admin import CappedPaginator, LargeTableAdmin
from tests.factories import CourseFactory, PaymentFactory, StudentFactory
from tests.support.admin import changelist_links, changelist_query_count

pytestmark = pytest.mark.django_db

PAYMENTS = reverse("admin:payments_payment_changelist")


def _payments(count: int) -> None:
    Payment.objects.bulk_create(PaymentFactory.build_batch(count, student=StudentFactory(), course=CourseFactory()))


@pytest.fixture
def small_cap(monkeypatch):
    """A cap of 20 rows and pages of 10, so the tests reach the cap with a few rows."""
    monkeypatch.setattr(CappedPaginator, "cap", 20)
    monkeypatch.setattr(PaymentAdmin, "list_per_page", 10)


def test_a_list_under_the_cap_shows_its_exact_count(staff_client, small_cap):
    _payments(15)

    content = staff_client.get(PAYMENTS).content.decode()

    assert "15 payments" in content
    assert "estimate" not in content


def test_a_list_past_the_cap_says_more_than_the_cap_and_gives_the_databases_estimate(staff_client, small_cap):
    _payments(45)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE payments")

    content = staff_client.get(PAYMENTS).content.decode()

    assert "More than 20 payments (about 45, the database's estimate)" in content
    assert "filter or search to reach the others" in content
    assert 'class="showall"' not in content


def test_show_all_past_the_cap_shows_one_page(staff_client, small_cap):
    _payments(45)

    response = staff_client.get(PAYMENTS, {"all": ""})

    assert len(response.context["cl"].result_list) == 10


def test_the_count_reads_at_most_one_row_past_the_cap(staff_client, small_cap):
    _payments(45)

    with CaptureQueriesContext(connection) as queries:
        staff_client.get(PAYMENTS)

    counts = [q["sql"] for q in queries.captured_queries if "COUNT(*)" in q["sql"].upper()]
    assert counts and all("LIMIT 21" in sql for sql in counts)


def test_the_pages_stop_at_the_cap(staff_client, small_cap):
    _payments(45)

    assert staff_client.get(PAYMENTS, {"p": 2}).status_code == 200
    beyond = staff_client.get(PAYMENTS, {"p": 3})

    assert beyond.status_code == 302
    assert beyond.url.endswith("?e=1")


def test_the_payments_list_offers_sorting_by_id_and_date_only(staff_client):
    PaymentFactory()

    links = changelist_links(staff_client.get(PAYMENTS).content.decode(), PAYMENTS)["sort"]

    columns = sorted(link.split("o=")[1].split(".")[0].lstrip("-") for link in links)
    assert columns == ["1", "8"]  # the id and created_at columns


def test_the_payments_list_runs_no_distinct_over_payments(staff_client):
    PaymentFactory()

    with CaptureQueriesContext(connection) as queries:
        staff_client.get(PAYMENTS)

    assert not [q["sql"] for q in queries.captured_queries if "DISTINCT" in q["sql"] and '"payments"' in q["sql"]]


def test_the_currency_filter_offers_the_courses_currencies(staff_client):
    PaymentFactory(course=CourseFactory(currency="USD"), currency="USD")

    links = changelist_links(staff_client.get(PAYMENTS).content.decode(), PAYMENTS)["filter"]

    assert f"{PAYMENTS}?currency__exact=USD" in links


@pytest.mark.parametrize(
    "model", [model for model, model_admin in admin.site._registry.items() if isinstance(model_admin, LargeTableAdmin)]
)
def test_a_large_tables_list_offers_no_facet_counts(staff_client, model):
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")

    content = staff_client.get(url).content.decode()

    assert "_facets" not in content


@pytest.mark.parametrize("model", list(admin.site._registry), ids=lambda model: model._meta.label)
def test_every_filter_sort_and_page_a_list_offers_answers_with_as_many_queries_as_the_list(staff_client, model):
    PaymentFactory.create_batch(3)
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    base = changelist_query_count(staff_client, url)
    links = changelist_links(staff_client.get(url).content.decode(), url)

    offered = [
        link for kind in ("filter", "sort") for link in links[kind] if "_facets" not in link
    ]  # counts: small tables
    counts = {link: changelist_query_count(staff_client, link) for link in offered}

    assert {link: n for link, n in counts.items() if n > base + 1} == {}


def test_a_page_finds_its_rows_by_id_under_the_offset_in_one_statement(staff_client, small_cap):
    _payments(45)

    with CaptureQueriesContext(connection) as queries:
        response = staff_client.get(PAYMENTS, {"p": 2})

    rows = [q["sql"] for q in queries.captured_queries if q["sql"].startswith('SELECT "payments"."id"')]
    assert len(rows) == 1
    assert "IN (SELECT" in rows[0] and "LIMIT 10 OFFSET 10" in rows[0]
    assert len(response.context["cl"].result_list) == 10
