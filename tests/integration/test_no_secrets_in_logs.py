"""Tokens, webhook secrets and passwords never reach a log line, whatever happens."""

from __future__ import annotations

import json

import pytest
import requests

from apps.payments.webhooks import webhook_sign
from tests.factories import CourseFactory, PaymentFactory, StudentFactory
from tests.support.servers import asgi_server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

TOKEN = "tok-secret-4f1d9c2b7a"
WEBHOOK_SECRET = "whsec-secret-8e3a6d"
PASSWORD = "pw-secret-5b7c9d"


def test_secrets_never_appear_in_the_servers_logs(tmp_path, sandbox_provider):
    student, course = StudentFactory(), CourseFactory()
    pending = PaymentFactory(status="pending")
    log = tmp_path / "server.log"
    env = {
        "API_TOKENS": TOKEN,
        "PAYMENT_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "PAYMENT_PROVIDER_URL": sandbox_provider.url,
        "LOG_LEVEL": "DEBUG",
    }

    with asgi_server(log_path=log, **env) as base:
        auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        order = {"student_id": student.id, "course_id": course.id, "amount": "10.00", "currency": "EUR"}
        requests.post(f"{base}/api/payments", json=order, headers={**auth, "Idempotency-Key": "k1"}, timeout=10)
        requests.post(f"{base}/api/payments", json=order, headers={"Authorization": "Bearer wrong"}, timeout=10)
        event = json.dumps({"id": "ch_9", "status": "succeeded", "reference": f"payment:{pending.id}"}).encode()
        for signature in (webhook_sign(body=event, secret=WEBHOOK_SECRET), "t=1,v1=00"):
            requests.post(
                f"{base}/api/payments/webhook", data=event, headers={"X-Sandbox-Signature": signature}, timeout=10
            )
        requests.post(f"{base}/admin/login/", data={"username": "admin", "password": PASSWORD}, timeout=10)

    printed = log.read_text()
    assert "payment_created" in printed  # the server did log the flow
    for secret in (TOKEN, WEBHOOK_SECRET, PASSWORD):
        assert secret not in printed
