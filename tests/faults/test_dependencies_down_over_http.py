"""Faults seen from outside: a real ASGI server with a hung Redis, a slow or a frozen PostgreSQL."""

from __future__ import annotations

import threading
import time

import pytest
import requests
from django.db import connection, transaction

from tests.factories import PaymentFactory
from tests.support.proxies import postgres_proxy, redis_proxy
from tests.support.servers import asgi_server, silent_tcp_server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

TOKEN = "fault-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_pages_and_the_api_still_answer_200_when_redis_hangs():
    payment = PaymentFactory()
    with silent_tcp_server() as port:
        env = {"REDIS_URL": f"redis://127.0.0.1:{port}/0", "API_TOKENS": TOKEN, "REDIS_SOCKET_TIMEOUT": "0.2"}
        with asgi_server(**env) as base:
            started = time.monotonic()
            detail = requests.get(f"{base}/api/payments/{payment.id}", headers=AUTH, timeout=10)
            listing = requests.get(
                f"{base}/api/students/{payment.student_id}/payments", {"status": "succeeded"}, headers=AUTH, timeout=10
            )
            login = requests.get(f"{base}/admin/login/", timeout=10)
            elapsed = time.monotonic() - started

    assert (detail.status_code, listing.status_code, login.status_code) == (200, 200, 200)
    assert [row["id"] for row in listing.json()["results"]] == [payment.id]
    assert elapsed < 8  # every Redis call is bounded: a few timeouts of well under a second each


def test_a_request_stuck_behind_a_lock_gets_a_504_within_its_budget():
    payment = PaymentFactory(status="succeeded")
    locked, release = threading.Event(), threading.Event()

    def hold_row_lock() -> None:
        with transaction.atomic():
            list(type(payment).objects.select_for_update().filter(id=payment.id))
            locked.set()
            release.wait(timeout=30)
        connection.close()

    holder = threading.Thread(target=hold_row_lock)
    holder.start()
    locked.wait(timeout=10)
    try:
        with asgi_server(
            API_TOKENS=TOKEN, REQUEST_TIMEOUT="1.0", DB_POOL_TIMEOUT="0.5", HEALTH_CHECK_TIMEOUT="0.5"
        ) as base:
            started = time.monotonic()
            response = requests.post(
                f"{base}/api/payments/{payment.id}/status", json={"status": "refunded"}, headers=AUTH, timeout=10
            )
            elapsed = time.monotonic() - started
            with connection.cursor() as cursor:
                time.sleep(0.5)
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'ops-console:web' "
                    "AND wait_event_type = 'Lock'"
                )
                still_waiting = cursor.fetchone()[0]
    finally:
        release.set()
        holder.join()

    assert response.status_code == 504
    assert response.json()["error"]["code"] in {"deadline_exceeded", "db_statement_timeout"}
    assert response.json()["correlation_id"] == response.headers["X-Correlation-ID"]
    assert elapsed < 1.0 + 0.75
    assert still_waiting == 0  # the database cancelled the statement; nothing outlives the request
    payment.refresh_from_db()
    assert payment.status == "succeeded"


# --- /ready with frozen dependencies -----------------------------------------------------

READY_BOUND = 1.0  # HEALTH_CHECK_TIMEOUT of the servers below
READY_MARGIN = 0.75


def _timed_ready(base: str) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = requests.get(f"{base}/ready", timeout=30)
    return response, time.monotonic() - started


def _ready_while_frozen(*, freeze_redis: bool) -> tuple[requests.Response, list[tuple[requests.Response, float]]]:
    """/ready once warm, then three times with PostgreSQL (and Redis) frozen; thawed before the server stops."""
    from django.conf import settings

    with postgres_proxy() as postgres, redis_proxy(settings.REDIS_URL) as redis:
        env = {"DATABASE_URL": postgres.url, "REDIS_URL": redis.url, "HEALTH_CHECK_TIMEOUT": str(READY_BOUND)}
        with asgi_server(**env) as base:
            warm = requests.get(f"{base}/ready", timeout=10)
            frozen = [postgres, redis] if freeze_redis else [postgres]
            for proxy in frozen:
                proxy.freeze()
            try:
                answers = [_timed_ready(base) for _ in range(3)]
            finally:
                for proxy in frozen:
                    proxy.thaw()
    return warm, answers


def test_readiness_answers_503_within_its_bound_while_postgres_is_frozen():
    warm, answers = _ready_while_frozen(freeze_redis=False)

    assert warm.status_code == 200, warm.text
    for response, elapsed in answers:  # again and again: a stuck check does not slow the next answer
        assert response.status_code == 503
        assert response.json()["failing"] == ["postgres"]
        assert elapsed < READY_BOUND + READY_MARGIN


def test_readiness_answers_503_within_its_bound_while_postgres_and_redis_are_frozen():
    warm, answers = _ready_while_frozen(freeze_redis=True)

    assert warm.status_code == 200, warm.text
    for response, elapsed in answers:
        assert response.status_code == 503
        assert response.json()["failing"] == ["postgres", "redis"]
        assert elapsed < READY_BOUND + READY_MARGIN
