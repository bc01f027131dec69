"""A frozen Redis (the broker) while payments are charged: every answer stays bounded and no hand-off is lost.

Redis stops answering (SIGSTOP-like: connections stay open, nothing comes back)
for the web server, the worker and the outbox relay alike while 50 payments are
created. The charges succeed at the provider; the purchase pipeline is handed
off through the outbox and runs once Redis is back.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from apps.payments.models import Payment
from apps.purchases.models import StudentCoursePurchase
from tests.factories import CourseFactory, StudentFactory, TrainerFactory
from tests.support.proxies import redis_proxy
from tests.support.servers import asgi_server
from tests.support.waiting import wait_until

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.redis_broker_only("freezes Redis as the broker: on RabbitMQ the frozen Redis is not the broker"),
]

TOKEN = "broker-stall-token-0123456789"
CREATES = 50
# Seconds of CPU contention allowed on top of the bounds: 50 requests share one process on a busy 2-core machine.
MARGIN_S = 1.5


def _answer_budget(settings) -> float:
    """What one create may spend on a frozen Redis, by the bounds in settings: the rate limiter, the circuit
    breaker's shared state (a read and a write), three outbox publishes of two attempts each (the claim's cache
    invalidation; the settlement's, and the pipeline's first step), and the live-view publish. Far under the
    request deadline, and no 5xx."""
    return (
        settings.RATE_LIMIT_REDIS_TIMEOUT
        + 2 * settings.REDIS_WRITE_TIMEOUT
        + 3 * 2 * settings.OUTBOX_PUBLISH_TIMEOUT
        + settings.WS_PUBLISH_TIMEOUT * 1.1
        + MARGIN_S
    )


def test_creates_during_a_frozen_redis_answer_in_time_and_every_charged_payment_gets_its_purchase(
    tmp_path, settings, sandbox_provider, isolated_broker, start_worker, start_relay
):
    course = CourseFactory(sessions_per_purchase=1)
    TrainerFactory(capacity=CREATES).courses.add(course)
    students = StudentFactory.create_batch(CREATES)
    with (
        redis_proxy(os.environ["REDIS_URL"]) as proxy,
        asgi_server(
            tmp_path / "web.log", REDIS_URL=proxy.url, API_TOKENS=TOKEN, PAYMENT_PROVIDER_URL=sandbox_provider.url,
            CELERY_BROKER_KEY_PREFIX=isolated_broker, RATE_LIMIT_API="100000/m",
        ) as base,
    ):  # fmt: skip
        start_worker(REDIS_URL=proxy.url)
        start_relay(REDIS_URL=proxy.url)

        def create(student) -> tuple[int, dict, float]:
            body = {"student_id": student.id, "course_id": course.id, "amount": "240.00", "currency": "EUR"}
            headers = {"Authorization": f"Bearer {TOKEN}", "Idempotency-Key": f"stall-{student.id}"}
            started = time.monotonic()
            response = requests.post(f"{base}/api/payments", json=body, headers=headers, timeout=30)
            return response.status_code, response.json(), time.monotonic() - started

        proxy.freeze()
        try:
            with ThreadPoolExecutor(max_workers=CREATES) as pool:
                answers = list(pool.map(create, students))
        finally:
            proxy.thaw()
        thawed = time.monotonic()
        succeeded = set(Payment.objects.filter(status="succeeded").values_list("id", flat=True))
        wait_until(
            lambda: set(StudentCoursePurchase.objects.values_list("payment_id", flat=True)) >= succeeded,
            timeout=30,
            what="a purchase for every succeeded payment",
        )
        recovered_in = time.monotonic() - thawed

    assert {status for status, _, _ in answers} <= {201, 202, 504}
    assert max(elapsed for _, _, elapsed in answers) < _answer_budget(settings)
    assert len(succeeded) == sum(status == 201 for status, _, _ in answers) > 0
    assert recovered_in < 30
