"""Whatever a client sends, the API answers with a 4xx JSON error or success, never a 5xx."""

from __future__ import annotations

import json
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.django_db

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
create_bodies = st.fixed_dictionaries(
    {},
    optional={
        "student_id": json_values,
        "course_id": json_values,
        "amount": json_values | st.decimals(allow_nan=False, allow_infinity=False).map(str),
        "currency": json_values | st.sampled_from(["EUR", "eur", "EURO", ""]),
        "extra": json_values,
    },
)
# Inputs that once reached a 500: deep nesting (RecursionError), a currency with a trailing newline (DataError),
# a currency nobody accepts, amounts far beyond any course's price.
deeply_nested = st.integers(min_value=1, max_value=50_000).map(lambda depth: "[" * depth + "]" * depth)
awkward_currencies = st.sampled_from(["EUR\n", "EUR ", " EUR", "XXX", "eur", "EU", "€", "EUR\x00"]) | st.text(
    max_size=5
)
awkward_amounts = st.sampled_from(
    ["99999999.99", "9999999999.99", "1e400", "NaN", "-1", "0.001", "1E+2", ""]
) | st.decimals(allow_nan=True, allow_infinity=True).map(str)
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _assert_client_error_or_success(response) -> None:
    assert response.status_code < 500, response.content
    if response.status_code >= 400:
        assert set(response.json()) == {"error", "correlation_id"}


@FUZZ
@given(body=create_bodies | json_values, key=st.text(max_size=140) | st.none())
def test_payment_create_never_answers_5xx(api_client, settings, body, key):
    settings.PAYMENT_PROVIDER_URL = "http://127.0.0.1:9"  # never reached: no valid student exists
    headers = {"Idempotency-Key": key} if key and key.isprintable() and "\n" not in key else {}

    response = api_client.post("/api/payments", data=json.dumps(body), content_type="application/json", headers=headers)

    _assert_client_error_or_success(response)


@FUZZ
@given(status=st.text(max_size=20), limit=st.text(max_size=8), student=st.integers(min_value=0, max_value=2**31))
def test_student_payment_list_never_answers_5xx(api_client, status, limit, student):
    response = api_client.get(f"/api/students/{student}/payments", {"status": status, "limit": limit})

    _assert_client_error_or_success(response)


@FUZZ
@given(raw=st.binary(max_size=200), signature=st.text(max_size=80))
def test_the_webhook_never_answers_5xx(client, raw, signature):
    headers = {"X-Sandbox-Signature": signature} if signature.isprintable() else {}

    response = client.post("/api/payments/webhook", data=raw, content_type="application/json", headers=headers)

    _assert_client_error_or_success(response)


@FUZZ
@given(currency=awkward_currencies, amount=awkward_amounts)
def test_payment_create_refuses_awkward_currencies_and_amounts_for_a_real_student_without_a_5xx(
    api_client, settings, currency, amount
):
    from tests.factories import CourseFactory, StudentFactory

    settings.PAYMENT_PROVIDER_URL = "http://127.0.0.1:9"  # a valid order would get 502/504, never 5xx from bad input
    body = {"student_id": StudentFactory().id, "course_id": CourseFactory().id, "amount": amount, "currency": currency}

    headers = {"Idempotency-Key": uuid.uuid4().hex}

    response = api_client.post("/api/payments", data=json.dumps(body), content_type="application/json", headers=headers)

    assert response.status_code in (400, 502), response.content  # 502: a valid order, the provider unreachable
    assert set(response.json()) == {"error", "correlation_id"}
    if response.status_code == 400:
        assert set(response.json()["error"]["fields"]) <= {"amount", "currency"}


@FUZZ
@given(raw=deeply_nested)
def test_deeply_nested_json_is_a_400_on_every_json_endpoint(api_client, client, settings, raw):
    from apps.payments.webhooks import webhook_sign

    signature = webhook_sign(body=raw.encode(), secret=settings.PAYMENT_WEBHOOK_SECRET)
    responses = [
        api_client.post("/api/payments", data=raw, content_type="application/json", headers={"Idempotency-Key": "k"}),
        api_client.post("/api/payments/1/status", data=raw, content_type="application/json"),
        client.post("/api/payments/webhook", data=raw, content_type="application/json",
                    headers={"X-Sandbox-Signature": signature}),
    ]  # fmt: skip

    for response in responses:
        assert response.status_code in (400, 413), response.content
        _assert_client_error_or_success(response)
