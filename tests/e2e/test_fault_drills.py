"""Fault drills in a browser: each drill changes what the console shows, and the change clears by itself."""

from __future__ import annotations

import uuid

import pytest
import requests
from playwright.sync_api import expect

from apps.console.models import OperatorAction
from apps.workers.models import DeadLetter
from tests.e2e.conftest import operator, screenshot, signed_in
from tests.support.realtime import realtime_server
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

BROWSER = {"SESSION_COOKIE_SECURE": "0", "CSRF_COOKIE_SECURE": "0"}
FAST = {"TELEMETRY_INTERVAL": "0.5", "TELEMETRY_OVERVIEW_CACHE": "0.3", "CONSOLE_LIVE_INTERVAL": "2",
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
        _run(page, base, "provider_failing", "2")
        during = _charge(sandbox_provider.url)
        wait_until(lambda: _charge(sandbox_provider.url) == 200, timeout=10, what="the provider to recover")

    assert during == 500
    assert set(OperatorAction.objects.values_list("action", flat=True)) == {
        "drills.poison", "drills.db_pool", "drills.slow_sql", "drills.redis_down", "drills.provider_failing"}  # fmt: skip
    assert page.problems == []
