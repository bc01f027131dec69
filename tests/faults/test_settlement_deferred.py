"""A charge the database cannot record at once is answered 202, never a 5xx, and settled by the provider's webhook."""

from __future__ import annotations

import threading
import time

import pytest
import requests
from django.db import connections, transaction

from apps.payments.models import Payment
from tests.factories import CourseFactory, StudentFactory
from tests.support.processes import free_port
from tests.support.provider import sandbox_provider_process
from tests.support.servers import asgi_server
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

TOKEN = "deferred-settlement-token-0123456789"
SECRET = "whsec-deferred-settlement"


def _hold_row_lock(payment_id: int, seconds: float, held: threading.Event) -> None:
    """Another session locks the payment, as a long report or a stuck transaction would."""
    try:
        with transaction.atomic():
            Payment.objects.select_for_update().get(id=payment_id)
            held.set()
            time.sleep(seconds)
    finally:
        connections.close_all()


def test_a_charge_whose_settlement_times_out_is_a_202_and_the_webhook_settles_it_later(tmp_path):
    student, course = StudentFactory(), CourseFactory()
    port = free_port()
    with (
        sandbox_provider_process(log_path=tmp_path / "provider.log", webhook_secret=SECRET) as provider,
        asgi_server(
            tmp_path / "web.log", port=port, API_TOKENS=TOKEN, PAYMENT_WEBHOOK_SECRET=SECRET,
            PAYMENT_PROVIDER_URL=provider.url, DB_STATEMENT_TIMEOUT="1000",
        ) as base,
    ):  # fmt: skip
        provider.set_mode("slow", delay_ms=1500, count=1)  # time to lock the row while the charge is in flight
        held = threading.Event()

        def lock_when_pending() -> None:
            wait_until(lambda: Payment.objects.filter(status="pending").exists(), timeout=10, what="a pending payment")
            _hold_row_lock(Payment.objects.get().id, 4.0, held)

        locker = threading.Thread(target=lock_when_pending)
        locker.start()
        response = requests.post(
            f"{base}/api/payments",
            json={"student_id": student.id, "course_id": course.id, "amount": "240.00", "currency": "EUR"},
            headers={"Authorization": f"Bearer {TOKEN}", "Idempotency-Key": "deferred-1"},
            timeout=15,
        )
        locker.join()
        assert held.is_set()

        assert response.status_code == 202
        assert response.json()["status"] == "pending"
        assert provider.stats()["charges_created"] == 1

        delivery = provider.send_webhook(_only_charge_id(provider), url=f"{base}/api/payments/webhook")
        assert delivery["status"] == 200

    payment = Payment.objects.get(id=response.json()["id"])
    assert payment.status == "succeeded"


def _only_charge_id(provider) -> str:
    """The one charge the sandbox made (it keeps no list; the idempotency key finds it)."""
    replay = requests.post(
        f"{provider.url}/v1/charges",
        json={"amount": "240.00", "currency": "EUR", "reference": f"payment:{Payment.objects.get().id}"},
        headers={"Idempotency-Key": "deferred-1"},
        timeout=5,
    )
    return replay.json()["id"]
