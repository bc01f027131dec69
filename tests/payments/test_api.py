from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest

from apps.payments.models import Payment
from apps.payments.webhooks import webhook_sign
from sandbox_provider.server import charge_event
from tests.factories import CourseFactory, PaymentFactory, PurchaseFactory, StudentFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _create(api_client, body: dict, key: str | None = "key-1"):
    headers = {"Idempotency-Key": key} if key else {}
    return api_client.post("/api/payments", data=json.dumps(body), content_type="application/json", headers=headers)


@pytest.fixture
def order():
    student, course = StudentFactory(), CourseFactory()
    return {"student_id": student.id, "course_id": course.id, "amount": "240.00", "currency": "EUR"}


@pytest.mark.slow
def test_a_payment_is_created_and_charged_once(api_client, provider, order):
    response = _create(api_client, order)

    assert response.status_code == 201
    assert response.json()["status"] == "succeeded"
    assert response.json()["provider_payment_id"]
    assert provider.charges_for("key-1") == 1


@pytest.mark.slow
def test_the_same_idempotency_key_returns_the_same_payment_without_charging_again(api_client, provider, order):
    first = _create(api_client, order)

    second = _create(api_client, order)

    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    assert provider.charges_for("key-1") == 1
    assert Payment.objects.count() == 1


@pytest.mark.slow
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


@pytest.mark.slow
def test_a_provider_timeout_leaves_the_payment_pending_with_a_clear_504(api_client, provider, order):
    provider.set_mode("hang")
    started = time.monotonic()

    response = _create(api_client, order)

    assert time.monotonic() - started < 3.5
    assert response.status_code == 504
    error = response.json()["error"]
    assert error["code"] == "provider_timeout"
    assert Payment.objects.get(id=error["payment_id"]).status == "pending"


@pytest.mark.slow
def test_reconciliation_settles_a_timed_out_payment_without_a_second_charge(api_client, provider, order):
    provider.set_mode("slow", delay_ms=1500)
    payment_id = _create(api_client, order).json()["error"]["payment_id"]
    provider.set_mode("normal")
    Payment.objects.filter(id=payment_id).update(updated_at="2000-01-01T00:00:00Z")

    from django.core.management import call_command

    call_command("reconcile_payments", "--older-than", "60")

    assert Payment.objects.get(id=payment_id).status == "succeeded"
    assert provider.charges_for("key-1") == 1


@pytest.mark.slow
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


def _webhook(client, charge: dict, secret: str, *, timestamp: int | None = None, signature: str | None = None):
    """POST the provider's event for `charge`, shaped as the sandbox provider shapes it."""
    raw = json.dumps(charge_event({"amount": "240.00", "currency": "EUR", **charge})).encode()
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


@pytest.mark.parametrize("charge_id", ["ch_\x00nul", "ch_" + "x" * 126])
def test_a_webhook_charge_id_postgresql_cannot_hold_is_a_400_not_a_500(client, settings, charge_id):
    response = _webhook(client, {"id": charge_id, "status": "succeeded"}, settings.PAYMENT_WEBHOOK_SECRET)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_failed"


def test_a_webhook_for_an_illegal_transition_is_a_409(client, settings):
    payment = PaymentFactory(status="refunded", provider_payment_id="ch_6")
    event = {"id": "ch_6", "status": "failed", "reference": f"payment:{payment.id}"}

    response = _webhook(client, event, settings.PAYMENT_WEBHOOK_SECRET)

    assert response.status_code == 409
    assert response.json()["error"]["current_status"] == "refunded"


def test_a_webhook_charge_for_an_expired_payment_is_recorded_not_refused(client, settings):
    payment = PaymentFactory(status="expired")
    event = {"id": "ch_late", "status": "succeeded", "reference": f"payment:{payment.id}"}

    response = _webhook(client, event, settings.PAYMENT_WEBHOOK_SECRET)

    assert response.status_code == 200
    payment.refresh_from_db()
    assert (payment.status, payment.provider_payment_id) == ("succeeded", "ch_late")


def test_the_openapi_schema_describes_every_payments_route(client):
    schema = client.get("/api/schema").json()
    paths = schema["paths"].items()

    assert {(m, path) for path, ops in paths for m, op in ops.items() if op["tags"] == ["payments"]} == {
        ("post", "/api/payments"),
        ("get", "/api/payments/{payment_id}"),
        ("post", "/api/payments/{payment_id}/status"),
        ("get", "/api/students/{student_id}/payments"),
        ("post", "/api/payments/webhook"),
    }


# --- One payment per course (issue: the same course charged twice) ---------------


@pytest.mark.slow
def test_a_second_payment_for_a_course_in_progress_is_refused_before_it_is_charged(api_client, provider, order):
    in_flight = PaymentFactory(student_id=order["student_id"], course_id=order["course_id"], status="pending")

    response = _create(api_client, order, key="another-key")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "payment_in_progress"
    assert response.json()["error"]["payment_id"] == in_flight.id
    assert provider.charges_for("another-key") == 0
    assert Payment.objects.count() == 1


@pytest.mark.slow
def test_a_second_payment_for_a_course_already_paid_is_refused_naming_the_payment(api_client, provider, order):
    paid = PaymentFactory(student_id=order["student_id"], course_id=order["course_id"], status="succeeded")

    response = _create(api_client, order, key="another-key")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "course_already_paid"
    assert response.json()["error"]["payment_id"] == paid.id
    assert provider.charges_for("another-key") == 0


@pytest.mark.slow
def test_a_second_payment_for_a_course_already_purchased_is_refused_naming_the_purchase(api_client, provider, order):
    paid = PaymentFactory(student_id=order["student_id"], course_id=order["course_id"], status="succeeded")
    purchase = PurchaseFactory(payment=paid, student=paid.student, course=paid.course)

    response = _create(api_client, order, key="another-key")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "course_already_purchased"
    assert response.json()["error"]["purchase_id"] == purchase.id
    assert provider.charges_for("another-key") == 0


@pytest.mark.slow
def test_a_course_may_be_paid_again_after_a_failed_payment(api_client, provider, order):
    PaymentFactory(student_id=order["student_id"], course_id=order["course_id"], status="failed")

    response = _create(api_client, order, key="another-key")

    assert response.status_code == 201
    assert provider.charges_for("another-key") == 1


@pytest.mark.slow
def test_a_course_may_be_bought_again_once_its_purchase_has_ended(api_client, provider, order):
    paid = PaymentFactory(student_id=order["student_id"], course_id=order["course_id"], status="succeeded")
    PurchaseFactory(payment=paid, student=paid.student, course=paid.course, is_active=False)

    response = _create(api_client, order, key="another-key")

    assert response.status_code == 201


@pytest.mark.slow
def test_the_same_key_retried_while_its_payment_is_in_flight_still_returns_that_payment(api_client, provider, order):
    first = PaymentFactory(
        student_id=order["student_id"], course_id=order["course_id"], status="pending", idempotency_key="key-1",
        amount=Decimal(order["amount"]), currency=order["currency"],
    )  # fmt: skip

    response = _create(api_client, order, key="key-1")

    assert response.status_code == 200
    assert response.json()["id"] == first.id


# --- Bad input gets a clear 4xx ------------------------------------------------


def test_a_body_larger_than_the_limit_is_refused_413_by_its_length_before_it_is_read(api_client, settings):
    settings.API_MAX_BODY_BYTES = 1024
    body = json.dumps({"padding": "x" * 2000})

    response = api_client.post(
        "/api/payments", data=body, content_type="application/json", headers={"Idempotency-Key": "k"}
    )

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"
    assert response.json()["error"]["limit"] == 1024


@pytest.mark.parametrize("currency", ["EUR\n", "XXX", "eur"], ids=["trailing-newline", "unsupported", "lowercase"])
def test_a_currency_that_is_not_accepted_is_a_400_naming_the_field(api_client, order, currency):
    response = _create(api_client, {**order, "currency": currency})

    assert response.status_code == 400
    assert "currency" in response.json()["error"]["fields"]
    assert not Payment.objects.exists()


def test_an_amount_above_the_maximum_is_a_400_naming_the_field(api_client, order, settings):
    settings.PAYMENT_MAX_AMOUNT = 10000

    response = _create(api_client, {**order, "amount": "10000.01"})

    assert response.status_code == 400
    assert "amount" in response.json()["error"]["fields"]


def test_a_payment_id_beyond_bigint_is_a_404_not_a_500(api_client):
    response = api_client.get(f"/api/payments/{2**64}")

    assert response.status_code == 404


def test_a_webhook_whose_charge_differs_from_the_payment_is_refused(client, settings):
    payment = PaymentFactory(status="pending")
    charge = {"id": "ch_7", "status": "succeeded", "reference": f"payment:{payment.id}", "amount": "1.00"}

    response = _webhook(client, charge, settings.PAYMENT_WEBHOOK_SECRET)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "charge_mismatch"
    payment.refresh_from_db()
    assert payment.status == "pending"


def test_a_webhook_signed_under_a_rotated_secret_is_accepted_when_any_signature_matches(client, settings):
    payment = PaymentFactory(status="pending")
    raw = json.dumps(charge_event({"id": "ch_8", "status": "succeeded", "reference": f"payment:{payment.id}",
                                   "amount": "240.00", "currency": "EUR"})).encode()  # fmt: skip
    header = webhook_sign(body=raw, secret=settings.PAYMENT_WEBHOOK_SECRET) + ",v1=" + "0" * 64
    header = header.replace("v1=", "v1=" + "f" * 64 + ",v1=", 1)  # an old secret's signature first

    response = client.post(
        "/api/payments/webhook", data=raw, content_type="application/json", headers={"X-Sandbox-Signature": header}
    )

    assert response.status_code == 200
