"""Concurrent retries against a real ASGI server: one key, one payment, one charge."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from apps.payments.models import Payment
from tests.factories import CourseFactory, StudentFactory
from tests.support.servers import asgi_server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

TOKEN = "integration-token-0123456789"


def test_twenty_concurrent_creates_with_one_key_make_one_payment_and_one_charge(sandbox_provider):
    student, course = StudentFactory(), CourseFactory()
    body = json.dumps({"student_id": student.id, "course_id": course.id, "amount": "240.00", "currency": "EUR"})
    sandbox_provider.set_mode("slow", delay_ms=300)  # keep the first charge in flight while the others arrive
    headers = {
        "Authorization": f"Bearer {TOKEN}",
        "Content-Type": "application/json",
        "Idempotency-Key": "same-key-for-all",
    }

    with asgi_server(API_TOKENS=TOKEN, PAYMENT_PROVIDER_URL=sandbox_provider.url) as base:

        def create(_: int) -> requests.Response:
            return requests.post(f"{base}/api/payments", data=body, headers=headers, timeout=10)

        with ThreadPoolExecutor(max_workers=20) as pool:
            responses = list(pool.map(create, range(20)))

    assert {response.status_code for response in responses} <= {200, 201}
    assert sum(response.status_code == 201 for response in responses) == 1
    assert len({response.json()["id"] for response in responses}) == 1
    assert Payment.objects.count() == 1
    assert sandbox_provider.charges_for("same-key-for-all") == 1


def test_ten_concurrent_creates_for_one_course_under_different_keys_make_one_charge(sandbox_provider):
    student, course = StudentFactory(), CourseFactory()
    body = json.dumps({"student_id": student.id, "course_id": course.id, "amount": "240.00", "currency": "EUR"})
    sandbox_provider.set_mode("slow", delay_ms=300)

    with asgi_server(API_TOKENS=TOKEN, PAYMENT_PROVIDER_URL=sandbox_provider.url) as base:

        def create(attempt: int) -> requests.Response:
            headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
            headers["Idempotency-Key"] = f"retry-with-a-new-key-{attempt}"
            return requests.post(f"{base}/api/payments", data=body, headers=headers, timeout=10)

        with ThreadPoolExecutor(max_workers=10) as pool:
            responses = list(pool.map(create, range(10)))

    assert sorted(response.status_code for response in responses) == [201] + [409] * 9
    assert {response.json()["error"]["code"] for response in responses if response.status_code == 409} <= {
        "payment_in_progress",
        "course_already_paid",
    }
    assert Payment.objects.count() == 1
    assert sandbox_provider.stats()["charges_created"] == 1
