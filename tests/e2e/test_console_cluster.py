"""The overview over a whole cluster: web, worker, beat (sampling every second) and relay, in a real browser."""

from __future__ import annotations

import json
import re
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.db import connection, transaction
from playwright.sync_api import expect

from apps.console.selectors import SPARKLINE_SERIES
from tests.e2e.conftest import operator, screenshot, signed_in
from tests.factories import CourseFactory, PaymentFactory, StudentFactory, TrainerFactory
from tests.support.provider import sandbox_provider_process
from tests.support.realtime import realtime_server
from tests.support.servers import asgi_server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

TOKEN = "e2e-cluster-token-0123456789abcdef"
INTERVAL = 0.5  # seconds between telemetry snapshots
# Every process of the test's cluster: its own telemetry keys, short windows, beat sampling every second and
# alert rules that hold for a second, so an alert fires and resolves within a test's patience.
CLUSTER_ENV = {
    "TELEMETRY_INTERVAL": str(INTERVAL),
    "TELEMETRY_WINDOW": "3",
    "TELEMETRY_SAMPLE_INTERVAL": "1",
    "ALERT_POOL_USAGE_FOR": "1",
    "ALERT_HTTP_5XX_FOR": "1",
    "ALERT_QUEUE_AGE_FOR": "1",
}


def cluster_env() -> dict[str, str]:
    return {**CLUSTER_ENV, "TELEMETRY_KEY_PREFIX": f"test-e2e-{uuid.uuid4().hex[:8]}:telemetry"}


def test_a_forced_pool_exhaustion_fires_the_pool_alert_and_it_resolves_after(
    tmp_path, browser_context, page, start_worker, start_beat, isolated_broker
):
    env = cluster_env()
    payment = PaymentFactory()
    with (
        realtime_server(tmp_path / "console.log", SESSION_COOKIE_SECURE="0", CSRF_COOKIE_SECURE="0",
                        CELERY_BROKER_KEY_PREFIX=isolated_broker, **env) as console,
        # A second web process with a pool of 2 that gives up after 0.3 s: the one the test exhausts.
        asgi_server(tmp_path / "small-pool.log", API_TOKENS=TOKEN, RATE_LIMIT_API="100000/m",
                    DB_POOL_MAX_SIZE="2", DB_POOL_MIN_SIZE="0", DB_POOL_TIMEOUT="0.3",
                    CELERY_BROKER_KEY_PREFIX=isolated_broker, **env) as small_pool,
    ):  # fmt: skip
        start_worker(**env)
        start_beat(**env)
        signed_in(browser_context, console, operator())
        page.goto(f"{console.http}/ops/")
        expect(page.locator("#live-badge")).to_have_text("live", timeout=10_000)
        timeouts_alert = page.locator('#alerts tr[data-alert="db_pool_timeouts"]')
        expect(timeouts_alert).to_have_count(0)

        # Every read of the payments table waits on this lock, holding its pooled connection: a lock pile-up.
        stop = threading.Event()
        answers: list[int] = []
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("LOCK TABLE payments IN ACCESS EXCLUSIVE MODE")
            with ThreadPoolExecutor(max_workers=6) as pool:
                for _ in range(6):
                    pool.submit(_read_until, f"{small_pool}/api/payments/{payment.id}", stop, answers)
                expect(timeouts_alert).to_have_count(1, timeout=20_000)
                expect(page.locator(".banner-reasons")).to_contain_text("timed out waiting for a DB connection")
                expect(page.locator("#db-pool")).to_have_class(re.compile(r"\btile-warn\b"))
                screenshot(page, "overview-pool-exhausted")
                stop.set()

        assert 503 in answers  # the pile-up refused requests: db_pool_exhausted
        # Released: no timeouts over the next window (3 s), the next sample resolves the alert.
        expect(timeouts_alert).to_have_count(0, timeout=20_000)
        page.goto(f"{console.http}/ops/alerts")
        resolved = page.locator('tr[data-alert="db_pool_timeouts"]').first
        expect(resolved).to_have_attribute("data-state", "resolved")
        screenshot(page, "alerts-pool-resolved")
        assert page.problems == []


def _read_until(url: str, stop: threading.Event, answers: list[int], pause: float = 0.0) -> None:
    while not stop.wait(pause):
        try:
            answers.append(requests.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10).status_code)
        except requests.RequestException:
            answers.append(0)


def test_the_whole_stack_healthy_shows_green(
    tmp_path, browser_context, page, start_worker, start_beat, start_relay, isolated_broker
):
    env = cluster_env()
    student, courses = StudentFactory(), CourseFactory.create_batch(3)
    TrainerFactory().courses.add(*courses)  # each purchase finds a trainer: no dead letter
    with (
        sandbox_provider_process(log_path=tmp_path / "provider.log", webhook_secret="whsec-e2e") as provider,
        realtime_server(
            tmp_path / "web.log", SESSION_COOKIE_SECURE="0", CSRF_COOKIE_SECURE="0", API_TOKENS=TOKEN,
            PAYMENT_PROVIDER_URL=provider.url, PAYMENT_WEBHOOK_SECRET="whsec-e2e",
            CELERY_BROKER_KEY_PREFIX=isolated_broker, **env,
        ) as server,
    ):  # fmt: skip
        process_env = {**env, "PAYMENT_PROVIDER_URL": provider.url, "PAYMENT_WEBHOOK_SECRET": "whsec-e2e"}
        start_worker(**process_env)
        start_beat(**process_env)
        start_relay(**process_env)
        signed_in(browser_context, server, operator())
        for n, course in enumerate(courses):
            body = {"student_id": student.id, "course_id": course.id, "amount": "90.00", "currency": "EUR"}
            headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json",
                       "Idempotency-Key": f"e2e-stack-{n}"}  # fmt: skip
            response = requests.post(f"{server.http}/api/payments", data=json.dumps(body), headers=headers, timeout=10)
            assert response.status_code in (200, 201), response.text
        paid_id = response.json()["id"]

        page.goto(f"{server.http}/ops/")

        for check in ("postgres", "redis", "broker", "workers", "beat", "relay", "provider"):
            expect(page.locator(f'tr[data-health="{check}"]')).to_have_attribute("data-state", "ok", timeout=30_000)
        expect(page.locator(".banner")).to_have_attribute("data-level", "ok", timeout=15_000)
        expect(page.locator("#live-badge")).to_have_text("live")
        # Steady traffic for the numbers, and a few more samples for the sparklines.
        stop, answers = threading.Event(), []
        reader = threading.Thread(
            target=_read_until, args=(f"{server.http}/api/payments/{paid_id}", stop, answers, 0.1)
        )
        reader.start()
        try:
            expect(page.locator('[data-key="http_p95_ms"] .value')).to_have_text(re.compile(r"ms"), timeout=10_000)
            page.wait_for_timeout(4_000)
            undrawn = page.eval_on_selector_all(
                "#console-tiles svg.spark.empty-series, #console-tiles svg.spark:has(polyline[points=''])",
                "svgs => svgs.map(svg => svg.dataset.series)",
            )
            screenshot(page, "overview-full-stack")
        finally:
            stop.set()
            reader.join()
        assert set(answers) == {200}
        # After a few samples every sparkline has a line, but two whose numbers stay unknown here: the oldest
        # queued message's age (nothing waits) and the provider's p95 (no call in the last 3 s window).
        assert page.locator("#console-tiles svg.spark").count() == len(SPARKLINE_SERIES)
        assert set(undrawn) <= {"queues.oldest_age_s", "provider.p95_ms"}
        assert page.problems == []
