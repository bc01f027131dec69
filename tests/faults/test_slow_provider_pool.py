"""A slow provider must not hold the database: creates wait on the provider, not on pooled connections."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from apps.payments.models import Payment
from tests.factories import CourseFactory, PaymentFactory, StudentFactory
from tests.support.servers import asgi_server
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

TOKEN = "slow-provider-token-0123456789"
CREATES = 100
PROVIDER_DELAY_MS = 8000  # the 4 s, doubled: room for a busy 2-core machine to start 100 creates
POOL_SIZE = 5
# An unrelated read answers in milliseconds; a pool held by the creates would make it wait DB_POOL_TIMEOUT and 503.
READ_BUDGET_S = 2.0


def test_a_hundred_creates_against_a_slow_provider_leave_the_pool_to_other_requests(tmp_path, sandbox_provider):
    course = CourseFactory()
    students = StudentFactory.create_batch(CREATES)
    existing = PaymentFactory()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    sandbox_provider.set_mode("slow", delay_ms=PROVIDER_DELAY_MS)
    with asgi_server(
        tmp_path / "web.log", API_TOKENS=TOKEN, PAYMENT_PROVIDER_URL=sandbox_provider.url, PAYMENT_TIMEOUT="12000",
        DB_POOL_MAX_SIZE=str(POOL_SIZE), DB_POOL_MIN_SIZE="0", DB_POOL_TIMEOUT="3", RATE_LIMIT_API="100000/m",
    ) as base:  # fmt: skip

        def create(student) -> int:
            body = {"student_id": student.id, "course_id": course.id, "amount": "240.00", "currency": "EUR"}
            headers = {**auth, "Idempotency-Key": f"slow-{student.id}"}
            return requests.post(f"{base}/api/payments", json=body, headers=headers, timeout=30).status_code

        reads: list[tuple[int, float]] = []
        all_waiting = threading.Event()

        def read_while_creates_wait_on_the_provider() -> None:
            # Every create has done its database work and now waits on the provider (holding, before the fix,
            # a pooled connection each: then only POOL_SIZE could get here, the rest answered 503).
            wait_until(lambda: Payment.objects.filter(status="pending").count() == CREATES, timeout=6,
                       what="every create to wait on the provider")  # fmt: skip
            all_waiting.set()
            deadline = time.monotonic() + 1.5  # the provider answers later than this
            while time.monotonic() < deadline:
                started = time.monotonic()
                response = requests.get(f"{base}/api/payments/{existing.id}", headers=auth, timeout=30)
                reads.append((response.status_code, time.monotonic() - started))
                time.sleep(0.1)

        reader = threading.Thread(target=read_while_creates_wait_on_the_provider)
        reader.start()
        with ThreadPoolExecutor(max_workers=CREATES) as pool:
            statuses = list(pool.map(create, students))
        reader.join()

    assert all_waiting.is_set()
    assert statuses == [201] * CREATES
    assert len(reads) >= 3
    assert {status for status, _ in reads} == {200}
    assert max(elapsed for _, elapsed in reads) < READ_BUDGET_S
