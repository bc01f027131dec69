from __future__ import annotations

import pytest

from apps.payments.services import ACTOR_OPERATOR, payment_settle
from apps.timeline.recorder import timeline_flush, timeline_record
from tests.factories import PaymentFactory, SessionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def payment():
    payment = SessionFactory().allocation.purchase.payment
    timeline_record(subject=f"payment:{payment.id}", kind="task", name="started", actor="purchases.create_from_payment",
                    correlation_id="corr-view-1")  # fmt: skip
    timeline_flush()
    return payment


def test_the_timeline_page_shows_the_payment_what_it_caused_and_its_events(staff_client, payment):
    page = staff_client.get(f"/ops/payments/{payment.id}").content.decode()

    assert f"Payment {payment.id}" in page
    assert 'id="caused"' in page
    assert 'data-kind="task"' in page
    assert "corr-view-1" in page
    assert f'data-refresh-url="/ops/payments/{payment.id}?fragment=events"' in page


def test_the_timeline_json_twin_carries_the_same_timeline(staff_client, payment):
    body = staff_client.get(f"/api/ops/payments/{payment.id}").json()

    assert body["timeline"]["payment"]["id"] == payment.id
    assert body["timeline"]["events"][0]["summary"] == "purchases.create_from_payment started"
    assert (
        staff_client.get(f"/ops/payments/{payment.id}?format=json", follow=True).json()["timeline"] == body["timeline"]
    )


def test_the_events_fragment_is_what_the_page_polls(staff_client, payment):
    fragment = staff_client.get(f"/ops/payments/{payment.id}?fragment=events").content.decode()

    assert fragment.lstrip().startswith('<table class="grid timeline">')


def test_a_search_with_one_match_opens_its_timeline(staff_client, payment):
    response = staff_client.get("/ops/payments", {"q": "corr-view-1"})

    assert response.status_code == 302
    assert response["Location"] == f"/ops/payments/{payment.id}?q=corr-view-1"


def test_the_search_json_twin_lists_matches(staff_client, payment):
    body = staff_client.get("/api/ops/payments", {"q": payment.idempotency_key}).json()

    assert body["results"] == [{"payment_id": payment.id, "url": f"/ops/payments/{payment.id}"}]


def test_a_search_without_a_match_says_so_in_words(staff_client):
    page = staff_client.get("/ops/payments", {"q": "nothing-here"}).content.decode()

    assert "No payment matches" in page


def test_the_search_page_explains_itself_before_a_search(staff_client):
    page = staff_client.get("/ops/payments").content.decode()

    assert "Paste any key you have" in page


def test_an_over_long_query_is_a_400_naming_the_field(staff_client):
    response = staff_client.get("/api/ops/payments", {"q": "x" * 200})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_failed"
    assert "q" in response.json()["error"]["fields"]


def test_an_unknown_payment_is_a_404_json_error_and_a_page_in_words(staff_client):
    assert staff_client.get("/api/ops/payments/99999999").json()["error"]["code"] == "not_found"
    response = staff_client.get("/ops/payments/99999999")
    assert response.status_code == 404
    assert "No payment 99999999." in response.content.decode()


def test_an_operator_status_change_is_on_the_timeline_as_the_operators(staff_client):
    payment = PaymentFactory()
    payment_settle(payment_id=payment.id, status="refunded", actor=ACTOR_OPERATOR)

    events = staff_client.get(f"/api/ops/payments/{payment.id}").json()["timeline"]["events"]

    assert [e["summary"] for e in events] == ["succeeded → refunded by operator"]


def test_the_timeline_is_for_staff_only(client, member_client, payment):
    assert client.get(f"/api/ops/payments/{payment.id}").status_code == 401
    assert member_client.get(f"/api/ops/payments/{payment.id}").status_code == 403
    assert member_client.get("/ops/payments").status_code == 403


def test_the_nav_links_the_payments_page(staff_client):
    assert '<a href="/ops/payments"' in staff_client.get("/ops/").content.decode()
