from __future__ import annotations

import json
import time

import pytest

from apps.payments.models import Payment
from apps.payments.webhooks import webhook_sign
from tests.factories import CourseFactory, PaymentFactory, StudentFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _create(api_client, body: dict, key: str | None = "key-1"):
    headers = {"Idempotency-Key": key} if key else {}
    return api_client.post("/api/payments", data=json.dumps(body), content_type="application/json", headers=headers)


@pytest.fixture
def order():
    student, course = StudentFactory(), CourseFactory()
    return {"student_id": student.id, "course_id": course.id, "amount": "240.00", "currency": "EUR"}


def test_a_payment_is_created_and_charged_once(api_client, provider, order):
    response = _create(api_client, order)

    assert response.status_code == 201
    assert response.json()["status"] == "succeeded"
    assert response.json()["provider_payment_id"]
    assert provider.charges_for("key-1") == 1


def test_the_same_idempotency_key_returns_the_same_payment_without_charging_again(api_client, provider, order):
    first = _create(api_client, order)

    second = _create(api_client, order)

    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    assert provider.charges_for("key-1") == 1
    assert Payment.objects.count() == 1


def test_reusing_a_key_for_a_different_payment_is_refused(api_client, provider, order):
    _create(api_client, order)

    response = _create(api_client, {**order, "amount": "999.00"})

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"


def test_a_create_without_an_idempotency_key_is_refused(api_client, order):
    response = _create(api_client, order, key=None)

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"Idempotency-Key": ["This header is required."]}


def test_invalid_fields_are_named_one_by_one(api_client, order):
    response = _create(api_client, {**order, "amount": "-5", "currency": "eur", "colour": "red"})

    fields = response.json()["error"]["fields"]
    assert response.status_code == 400
    assert set(fields) == {"amount", "currency", "colour"}
    assert Payment.objects.count() == 0


def test_an_unknown_student_is_a_field_error(api_client, order):
    response = _create(api_client, {**order, "student_id": 999_999})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unknown_reference"
    assert "student_id" in response.json()["error"]["fields"]


def test_a_body_that_is_not_json_is_refused(api_client):
    response = api_client.post(
        "/api/payments", data="{nope", content_type="application/json", headers={"Idempotency-Key": "k"}
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


def test_a_body_that_is_not_declared_json_is_refused(api_client):
    response = api_client.post("/api/payments", data={"a": "b"}, headers={"Idempotency-Key": "k"})

    assert response.status_code == 415


def test_the_api_requires_a_token(client, order):
    response = client.post("/api/payments", data=json.dumps(order), content_type="application/json")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"


def test_a_staff_session_may_read_but_not_write(staff_client, order):
    payment = PaymentFactory()

    assert staff_client.get(f"/api/payments/{payment.id}").status_code == 200
    assert _create(staff_client, order).status_code == 401


def test_a_provider_timeout_leaves_the_payment_pending_with_a_clear_504(api_client, provider, order):
    provider.set_mode("hang")
    started = time.monotonic()

    response = _create(api_client, order)

    assert time.monotonic() - started < 3.5
    assert response.status_code == 504
    error = response.json()["error"]
    assert error["code"] == "provider_timeout"
    assert Payment.objects.get(id=error["payment_id"]).status == "pending"


def test_reconciliation_settles_a_timed_out_payment_without_a_second_charge(api_client, provider, order):
    provider.set_mode("slow", delay_ms=1500)
    payment_id = _create(api_client, order).json()["error"]["payment_id"]
    provider.set_mode("normal")
    Payment.objects.filter(id=payment_id).update(updated_at="2000-01-01T00:00:00Z")

    from django.core.management import call_command

    call_command("reconcile_payments", "--older-than", "60")

    assert Payment.objects.get(id=payment_id).status == "succeeded"
    assert provider.charges_for("key-1") == 1


def test_a_provider_error_gives_502_and_leaves_the_payment_pending(api_client, provider, order):
    provider.set_mode("error")

    response = _create(api_client, order)

    assert response.status_code == 502
    assert response.json()["error"]["code"] == "provider_unavailable"
    assert Payment.objects.get().status == "pending"


def test_a_payment_can_be_read_by_id(api_client):
    payment = PaymentFactory()

    response = api_client.get(f"/api/payments/{payment.id}")

    assert response.status_code == 200
    assert response.json()["amount"] == "240.00"


def test_an_unknown_payment_is_a_json_404(api_client):
    response = api_client.get("/api/payments/424242")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_students_payments_are_filtered_by_status_newest_first(api_client):
    student = StudentFactory()
    older = PaymentFactory(student=student, status="succeeded")
    newer = PaymentFactory(student=student, status="succeeded")
    PaymentFactory(student=student, status="failed")

    response = api_client.get(f"/api/students/{student.id}/payments", {"status": "succeeded"})

    assert [row["id"] for row in response.json()["results"]] == [newer.id, older.id]


def test_a_bad_status_filter_is_a_field_error(api_client):
    response = api_client.get("/api/students/1/payments", {"status": "lost", "limit": "9999"})

    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"status", "limit"}


def test_a_legal_transition_is_applied(api_client):
    payment = PaymentFactory(status="succeeded")

    response = api_client.post(
        f"/api/payments/{payment.id}/status", data={"status": "refunded"}, content_type="application/json"
    )

    assert response.status_code == 200
    assert response.json()["status"] == "refunded"


def test_an_illegal_transition_is_a_409_naming_the_current_state(api_client):
    payment = PaymentFactory(status="refunded")

    response = api_client.post(
        f"/api/payments/{payment.id}/status", data={"status": "pending"}, content_type="application/json"
    )

    assert response.status_code == 409
    assert response.json()["error"]["current_status"] == "refunded"
    payment.refresh_from_db()
    assert payment.status == "refunded"


def _webhook(client, body: dict, secret: str, *, timestamp: int | None = None, signature: str | None = None):
    raw = json.dumps(body).encode()
    header = signature if signature is not None else webhook_sign(body=raw, secret=secret, timestamp=timestamp)
    return client.post(
        "/api/payments/webhook", data=raw, content_type="application/json", headers={"X-Sandbox-Signature": header}
    )


def test_a_signed_webhook_settles_a_pending_payment(client, settings):
    payment = PaymentFactory(status="pending")
    event = {"id": "ch_1", "status": "succeeded", "reference": f"payment:{payment.id}"}

    response = _webhook(client, event, settings.PAYMENT_WEBHOOK_SECRET)

    assert response.status_code == 200
    payment.refresh_from_db()
    assert (payment.status, payment.provider_payment_id) == ("succeeded", "ch_1")


def test_a_replayed_webhook_changes_nothing(client, settings):
    payment = PaymentFactory(status="pending")
    event = {"id": "ch_2", "status": "succeeded", "reference": f"payment:{payment.id}"}
    _webhook(client, event, settings.PAYMENT_WEBHOOK_SECRET)
    updated_at = Payment.objects.get(id=payment.id).updated_at

    response = _webhook(client, event, settings.PAYMENT_WEBHOOK_SECRET)

    assert response.status_code == 200
    assert Payment.objects.get(id=payment.id).updated_at == updated_at


@pytest.mark.parametrize(
    "signature", ["", "t=1,v1=deadbeef", "garbage", "v1=0000"], ids=["empty", "wrong", "garbage", "no-timestamp"]
)
def test_a_webhook_with_a_bad_signature_is_refused_and_changes_nothing(client, settings, signature):
    payment = PaymentFactory(status="pending")
    event = {"id": "ch_3", "status": "succeeded", "reference": f"payment:{payment.id}"}

    response = _webhook(client, event, settings.PAYMENT_WEBHOOK_SECRET, signature=signature)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_signature"
    payment.refresh_from_db()
    assert payment.status == "pending"


def test_a_webhook_signed_with_another_secret_is_refused(client):
    payment = PaymentFactory(status="pending")
    event = {"id": "ch_4", "status": "succeeded", "reference": f"payment:{payment.id}"}

    assert _webhook(client, event, "not-the-secret").status_code == 400


def test_a_stale_webhook_signature_is_refused(client, settings):
    payment = PaymentFactory(status="pending")
    event = {"id": "ch_5", "status": "succeeded", "reference": f"payment:{payment.id}"}
    an_hour_ago = int(time.time()) - 3600

    assert _webhook(client, event, settings.PAYMENT_WEBHOOK_SECRET, timestamp=an_hour_ago).status_code == 400


def test_a_webhook_for_an_illegal_transition_is_a_409(client, settings):
    payment = PaymentFactory(status="refunded", provider_payment_id="ch_6")
    event = {"id": "ch_6", "status": "failed", "reference": f"payment:{payment.id}"}

    response = _webhook(client, event, settings.PAYMENT_WEBHOOK_SECRET)

    assert response.status_code == 409
    assert response.json()["error"]["current_status"] == "refunded"


def test_the_openapi_schema_describes_every_api_route(client):
    from django.urls import get_resolver

    schema = client.get("/api/schema").json()

    api = next(pattern for pattern in get_resolver().url_patterns if str(pattern.pattern) == "api/")
    routes = {"/api/" + str(route.pattern).replace("<int:", "{").replace(">", "}") for route in api.url_patterns}
    assert set(schema["paths"]) == routes
