"""The provider's webhooks, end to end: the sandbox signs and delivers, the console verifies, settles and hands on.

Both sides run as the real processes they are: the sandbox provider, uvicorn
serving the console, and a Celery worker for the pipeline.
"""

from __future__ import annotations

import json

import pytest
import requests

from apps.payments.models import Payment
from apps.purchases.models import StudentCoursePurchase
from tests.factories import CourseFactory, StudentFactory, TrainerFactory
from tests.support.processes import free_port
from tests.support.provider import sandbox_provider_process
from tests.support.servers import asgi_server
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

TOKEN = "webhook-contract-token-0123456789"
SECRET = "whsec-contract-test"


def test_a_payment_whose_charge_timed_out_is_settled_by_the_signed_webhook_and_its_pipeline_runs(
    tmp_path, start_worker, isolated_broker
):
    course = CourseFactory(sessions_per_purchase=2)
    TrainerFactory(capacity=5).courses.add(course)
    student = StudentFactory()
    port = free_port()
    webhook_url = f"http://127.0.0.1:{port}/api/payments/webhook"
    with (
        sandbox_provider_process(log_path=tmp_path / "provider.log", webhook_secret=SECRET, webhook_url=webhook_url)
        as provider,
        asgi_server(
            tmp_path / "web.log", port=port, API_TOKENS=TOKEN, PAYMENT_WEBHOOK_SECRET=SECRET,
            PAYMENT_PROVIDER_URL=provider.url, PAYMENT_TIMEOUT="300", HTTP_TARGET_PAYMENT_PROVIDER_RETRIES="0",
            CELERY_BROKER_KEY_PREFIX=isolated_broker,
        ) as base,
    ):  # fmt: skip
        start_worker()
        provider.set_mode("slow", delay_ms=3000)  # the charge is made, its answer comes too late

        response = requests.post(
            f"{base}/api/payments",
            data=json.dumps({"student_id": student.id, "course_id": course.id, "amount": "240.00", "currency": "EUR"}),
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json", "Idempotency-Key": "k1"},
            timeout=10,
        )

        assert response.status_code == 504
        payment_id = response.json()["error"]["payment_id"]
        wait_until(
            lambda: StudentCoursePurchase.objects.filter(payment_id=payment_id).exists(),
            timeout=30,
            what="the webhook to settle the payment and the pipeline to make its purchase",
        )
        deliveries = requests.get(f"{provider.url}/_control/webhooks", timeout=5).json()

    payment = Payment.objects.get(id=payment_id)
    assert payment.status == "succeeded"
    assert payment.provider_payment_id == deliveries[0]["event"]["data"]["object"]["id"]
    assert [delivery["status"] for delivery in deliveries] == [200]
