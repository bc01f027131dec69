"""Reconciliation, end to end: the console's client and the sandbox provider agree on the read-only lookup.

The sandbox runs as a process, the console answers the API from uvicorn, and
`manage.py reconcile_payments` runs as beat would run it: it reads each charge
by its idempotency key, settles from it, expires what the provider never saw,
and never makes a charge.
"""

from __future__ import annotations

import datetime

import pytest
import requests
from django.utils import timezone

from apps.payments.models import Payment
from tests.factories import CourseFactory, PaymentFactory, StudentFactory
from tests.support.processes import child_env, run_manage
from tests.support.provider import sandbox_provider_process
from tests.support.servers import asgi_server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

TOKEN = "reconciliation-contract-token-0123456789"
SECRET = "whsec-reconciliation-contract"


def test_reconciliation_settles_a_timed_out_charge_expires_a_never_charged_payment_and_charges_nothing(tmp_path):
    student, course = StudentFactory(), CourseFactory()
    never_charged = PaymentFactory(status="created", idempotency_key="crashed-before-its-charge")
    with (
        sandbox_provider_process(log_path=tmp_path / "provider.log", webhook_secret=SECRET) as provider,
        asgi_server(
            tmp_path / "web.log", API_TOKENS=TOKEN, PAYMENT_WEBHOOK_SECRET=SECRET, PAYMENT_PROVIDER_URL=provider.url,
            PAYMENT_TIMEOUT="300", HTTP_TARGET_PAYMENT_PROVIDER_RETRIES="0",
        ) as base,
    ):  # fmt: skip
        provider.set_mode("slow", delay_ms=1500, count=1)  # the charge is made; its answer comes too late
        response = requests.post(
            f"{base}/api/payments",
            json={"student_id": student.id, "course_id": course.id, "amount": "240.00", "currency": "EUR"},
            headers={"Authorization": f"Bearer {TOKEN}", "Idempotency-Key": "timed-out-1"},
            timeout=10,
        )
        assert response.status_code == 504
        timed_out = response.json()["error"]["payment_id"]
        Payment.objects.update(updated_at=timezone.now() - datetime.timedelta(hours=2))

        result = run_manage(
            "reconcile_payments", "--older-than", "60",
            env=child_env(PAYMENT_PROVIDER_URL=provider.url, PAYMENT_EXPIRE_AFTER="3600",
                          PAYMENT_WEBHOOK_SECRET=SECRET, DEBUG="1"),
        )  # fmt: skip
        posts = provider.requests_to("POST", "/v1/charges")
        charges = provider.stats()["charges_created"]

    assert result.returncode == 0, result.stderr
    assert "settled=1 expired=1 still_pending=0" in result.stdout
    assert Payment.objects.get(id=timed_out).status == "succeeded"
    assert Payment.objects.get(id=never_charged.id).status == "expired"
    assert (posts, charges) == (1, 1)  # the API's own charge, and nothing more
