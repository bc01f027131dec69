"""Fault drills in a browser: each drill changes what the console shows, and the change clears by itself (issue 12)."""

from __future__ import annotations

import re
import uuid

import pytest
import requests
from playwright.sync_api import expect

from apps.console.models import OperatorAction
from apps.payments.models import Payment
from apps.workers.models import DeadLetter
from tests.e2e.conftest import operator, screenshot, signed_in
from tests.factories import CourseFactory, StudentFactory, TrainerFactory
from tests.support.realtime import realtime_server
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

BROWSER = {"SESSION_COOKIE_SECURE": "0", "CSRF_COOKIE_SECURE": "0"}
FAST = {"TELEMETRY_INTERVAL": "0.5", "TELEMETRY_WINDOW": "5", "TELEMETRY_OVERVIEW_CACHE": "0.3", "TELEMETRY_TOTALS_CACHE": "0.3",
        "CONSOLE_LIVE_INTERVAL": "2",
        "CONSOLE_LONG_QUERY_SECONDS": "0.5", "CONSOLE_DB_ACTIVITY_CACHE": "0.3"}  # fmt: skip


def _run(page, base: str, name: str, seconds: str = "") -> None:
    page.goto(f"{base}/ops/drills")
    row = page.locator(f'tr[data-drill="{name}"]')
    if seconds:
        row.locator("input[name=seconds]").fill(seconds)
    row.get_by_role("button", name="Run…").click()
    page.click("#confirm")
    expect(page.locator(".messagelist")).to_contain_text("running")


def _charge(provider_url: str) -> int:
    body = {"amount": "10.00", "currency": "EUR", "reference": "drill"}
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    return requests.post(f"{provider_url}/v1/charges", json=body, headers=headers, timeout=5).status_code


def test_each_drill_shows_on_the_console_and_clears_by_itself(
    tmp_path, browser_context, page, start_worker, isolated_broker, sandbox_provider
):
    telemetry = {**FAST, "TELEMETRY_KEY_PREFIX": f"test-e2e-{uuid.uuid4().hex[:8]}:telemetry"}
    env = {**BROWSER, **telemetry, "OPS_FAULT_DRILLS": "1", "CELERY_BROKER_KEY_PREFIX": isolated_broker,
           "PAYMENT_PROVIDER_URL": sandbox_provider.url}  # fmt: skip
    with realtime_server(tmp_path / "web.log", **env) as server:
        start_worker(**telemetry, TASK_MAX_ATTEMPTS="2", DB_POOL_MAX_SIZE="2", DB_POOL_TIMEOUT="0.5")
        signed_in(browser_context, server, operator())
        base = server.http
        page.goto(f"{base}/ops/drills")
        expect(page.locator('tr[data-drill="poison"]')).to_have_attribute("data-active", "no")
        screenshot(page, "drills")

        # A poison task: a dead letter appears; discarding it (the operator's fix) clears the tile.
        _run(page, base, "poison")
        new = page.locator('#now tr[data-tile="dead_letters"]')
        expect(new).to_have_attribute("data-new", "1", timeout=30_000)
        screenshot(page, "drills-poison")
        DeadLetter.objects.filter(task_name="drills.poison").update(status="discarded")
        expect(new).to_have_attribute("data-new", "0", timeout=10_000)

        # DB pool exhaustion on the worker: the pool tile goes amber (waits, timeouts), then green again.
        _run(page, base, "db_pool", "4")
        pool = page.locator('#now tr[data-tile="db_pool"]')
        expect(pool).to_have_attribute("data-level", "degraded", timeout=10_000)
        screenshot(page, "drills-db-pool")
        expect(pool).to_have_attribute("data-level", "ok", timeout=20_000)

        # A slow statement: listed as a long query on the database page, then gone (cancelled by its timeout).
        _run(page, base, "slow_sql", "3")
        page.goto(f"{base}/ops/database")
        expect(page.locator("#long-queries")).to_contain_text("fault drill", timeout=10_000)
        expect(page.locator("#long-queries")).not_to_contain_text("fault drill", timeout=15_000)

        # Redis unreachable for the web process: its health says Redis is down, then up.
        _run(page, base, "redis_down", "3")
        redis = page.locator('#now tr[data-health="redis"]')
        expect(redis).to_have_attribute("data-state", "down", timeout=10_000)
        screenshot(page, "drills-redis-down")
        expect(redis).to_have_attribute("data-state", "ok", timeout=15_000)

        # The provider failing: its answers are 500s during the drill, normal after, by its own timer.
        _run(page, base, "provider_failing", "5")  # a window a loaded machine cannot miss
        during = _charge(sandbox_provider.url)
        wait_until(lambda: _charge(sandbox_provider.url) == 200, timeout=10, what="the provider to recover")

    assert during == 500
    assert set(OperatorAction.objects.values_list("action", flat=True)) == {
        "drills.poison", "drills.db_pool", "drills.slow_sql", "drills.redis_down", "drills.provider_failing"}  # fmt: skip
    assert page.problems == []


# --- the provider drills and the burst: payments flow, and the console shows the provider's state ---------------

BURST = 5  # DRILL_BURST_PAYMENTS
TOKEN = "e2e-drills-token-0123456789abcdef"
DELAY_MS = 800  # DRILL_PROVIDER_DELAY_MS: far above a sandbox answer (a few ms)
# The provider's target for the test processes: no retries, a breaker that opens after 2 failures and lets a
# trial call through after 4 s, calls that time out after 1 s (the hanging drill). The reset timeout must outlast
# the gap between the 2nd failure and the 3rd payment reaching the provider on a loaded machine: at 1 s the 3rd
# payment of the hanging drill sometimes became the trial call and answered 504 instead of the open breaker's 502.
PROVIDER_TARGET = {"HTTP_TARGET_PAYMENT_PROVIDER_RETRIES": "0", "HTTP_TARGET_PAYMENT_PROVIDER_BREAKER_FAIL_MAX": "2",
                   "HTTP_TARGET_PAYMENT_PROVIDER_BREAKER_RESET_TIMEOUT": "4",
                   "HTTP_TARGET_PAYMENT_PROVIDER_READ_TIMEOUT": "1"}  # fmt: skip


def _provider_env(provider_url: str, broker: str) -> dict[str, str]:
    telemetry = {**FAST, "TELEMETRY_KEY_PREFIX": f"test-e2e-{uuid.uuid4().hex[:8]}:telemetry"}
    return {**BROWSER, **telemetry, **PROVIDER_TARGET, "OPS_FAULT_DRILLS": "1", "CELERY_BROKER_KEY_PREFIX": broker,
            "PAYMENT_PROVIDER_URL": provider_url, "API_TOKENS": TOKEN, "DRILL_PROVIDER_DELAY_MS": str(DELAY_MS),
            "HTTP_BREAKER_KEY_PREFIX": f"test-e2e-{uuid.uuid4().hex[:8]}:breaker"}  # fmt: skip


def _pay(base: str, course_id: int) -> int:
    """One payment through the API, for a new student (a failed one stays pending and blocks its student)."""
    body = {"student_id": StudentFactory().id, "course_id": course_id, "amount": "240.00", "currency": "EUR"}
    headers = {"Authorization": f"Bearer {TOKEN}", "Idempotency-Key": uuid.uuid4().hex}
    return requests.post(f"{base}/api/payments", json=body, headers=headers, timeout=10).status_code


def _figure(page, tile: str, label: str):
    """A figure of an overview tile: the <dd> after the <dt> that names it."""
    return page.locator(f'#{tile} dt:text-is("{label}") + dd')


def _milliseconds(text: str) -> float:
    return float(text.removesuffix(" ms").replace(",", "")) if text.endswith(" ms") else 0.0


def _breaks_and_recovers(page, base: str, name: str, course_id: int, *, failed: int, seconds: int) -> list[int]:
    """Run provider drill `name` for `seconds`; payments fail (`failed`), the breaker opens (provider red); after
    the drill and the breaker's reset timeout a payment goes through and the provider is ok again. Returns the
    answers. The drill's clock starts when it is confirmed, so `seconds` must outlast the page's answer and the
    two failing payments on a loaded machine (a payment meeting the hanging provider takes its 1 s timeout)."""
    _run(page, base, name, str(seconds))
    provider = page.locator('#now tr[data-health="provider"]')
    answers = [_pay(base, course_id) for _ in range(3)]  # 2 failures open the breaker; the 3rd is refused
    expect(provider).to_have_attribute("data-state", "down", timeout=10_000)
    expect(provider).to_contain_text("breaker open")
    screenshot(page, f"drills-{name.replace('_', '-')}")
    wait_until(lambda: _pay(base, course_id) == 201, timeout=30, interval=0.5, what=f"a payment after {name}")
    expect(provider).to_have_attribute("data-state", "ok", timeout=10_000)
    expect(provider).to_contain_text("breaker closed, last call ok")
    # The first two payments meet the drill (the second trips the breaker and still answers its own error:
    # lib/breaker.py, throw_new_error_on_trip=False); the third is refused by the open breaker, 502.
    assert answers == [failed, failed, 502], answers
    return answers


def test_each_provider_drill_shows_on_the_console_once_payments_flow_and_clears(
    tmp_path, browser_context, page, isolated_broker, sandbox_provider
):
    course = CourseFactory()
    with realtime_server(tmp_path / "web.log", **_provider_env(sandbox_provider.url, isolated_broker)) as server:
        signed_in(browser_context, server, operator())
        base = server.http

        # Slow: the provider tile's p95 rises from a normal call's few ms to the drill's delay.
        assert _pay(base, course.id) == 201
        page.goto(f"{base}/ops/")
        p95 = _figure(page, "provider", "p95")
        wait_until(lambda: 0 < _milliseconds(p95.inner_text()) < DELAY_MS / 2, timeout=10, what="a normal p95")
        _run(page, base, "provider_slow", "4")
        assert [_pay(base, course.id), _pay(base, course.id)] == [201, 201]
        page.goto(f"{base}/ops/")
        wait_until(lambda: _milliseconds(p95.inner_text()) >= DELAY_MS, timeout=10, what="the provider p95 to rise")
        screenshot(page, "drills-provider-slow")

        # Failing, refusing, hanging: the breaker opens, health *provider* red; ok again after the drill.
        page.goto(f"{base}/ops/drills")
        _breaks_and_recovers(page, base, "provider_failing", course.id, failed=502, seconds=5)
        _breaks_and_recovers(page, base, "provider_refusing", course.id, failed=502, seconds=5)
        _breaks_and_recovers(page, base, "provider_hanging", course.id, failed=504, seconds=8)

    assert set(OperatorAction.objects.values_list("action", flat=True)) == {
        "drills.provider_slow", "drills.provider_failing", "drills.provider_refusing", "drills.provider_hanging"}  # fmt: skip
    assert page.problems == []


def test_a_burst_moves_provider_calls_and_tasks_and_its_payments_appear(
    tmp_path, browser_context, page, start_worker, isolated_broker, sandbox_provider
):
    course = CourseFactory()
    TrainerFactory().courses.add(course)
    StudentFactory.create_batch(BURST)
    env = {**_provider_env(sandbox_provider.url, isolated_broker), "DRILL_BURST_PAYMENTS": str(BURST)}
    with realtime_server(tmp_path / "web.log", **env) as server:
        start_worker(**{k: v for k, v in env.items() if k not in BROWSER})
        signed_in(browser_context, server, operator())
        base = server.http
        page.goto(f"{base}/ops/")
        calls, succeeded = _figure(page, "provider", "Calls"), _figure(page, "tasks", "Succeeded")
        expect(page.locator('tr[data-health="workers"]')).to_have_attribute("data-state", "ok", timeout=30_000)
        expect(calls).to_have_text("0")

        _run(page, base, "burst")
        page.goto(f"{base}/ops/")
        expect(calls).to_have_text(str(BURST), timeout=20_000)
        wait_until(lambda: int(succeeded.inner_text().replace(",", "")) > BURST, timeout=30, what="the pipelines")
        expect(page.locator('[data-key="queues"] .value')).to_have_text(re.compile(r"^0 ·"), timeout=30_000)
        screenshot(page, "drills-burst")
        payments = list(Payment.objects.filter(idempotency_key__startswith="drill-burst-"))
        page.goto(f"{base}/ops/payments/{payments[0].id}")
        expect(page.locator("body")).to_contain_text(payments[0].idempotency_key)

    assert len(payments) == BURST
    assert page.problems == []
