"""The database and workers pages' main flows in a browser: cancel a long query; pause and resume a queue."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from apps.console.models import OperatorAction
from tests.console.backends import session
from tests.e2e.conftest import operator, screenshot, signed_in
from tests.support.realtime import realtime_server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

BROWSER = {"SESSION_COOKIE_SECURE": "0", "CSRF_COOKIE_SECURE": "0"}


def test_an_operator_cancels_a_long_query_from_the_database_page(tmp_path, browser_context, page):
    env = {**BROWSER, "CONSOLE_LONG_QUERY_SECONDS": "0.5", "CONSOLE_DB_ACTIVITY_CACHE": "0.5",
           "TELEMETRY_KEY_PREFIX": f"test-e2e-{uuid.uuid4().hex[:8]}:telemetry"}  # fmt: skip
    with realtime_server(tmp_path / "web.log", **env) as server, session("nightly-report") as long:
        long.run("SELECT pg_sleep(60) /* the nightly report */")
        signed_in(browser_context, server, operator())
        page.goto(f"{server.http}/ops/database")
        row = page.locator(f'#long-queries tr[data-pid="{long.pid}"]')
        expect(row).to_contain_text("nightly-report", timeout=10_000)  # arrives with the live refresh
        expect(page.locator("#budget .budget-words")).to_contain_text("Room for")
        screenshot(page, "database")

        row.get_by_role("button", name="Cancel").click()
        expect(page.locator("h1")).to_have_text(f"Cancel the statement of pid {long.pid}?")
        screenshot(page, "database-confirm-cancel")
        page.click("#confirm")

        expect(page.locator(".messagelist")).to_contain_text(f"Pid {long.pid}: cancelled its statement")
        long.wait()
        expect(page.locator(f'#long-queries tr[data-pid="{long.pid}"]')).to_have_count(0, timeout=10_000)
        screenshot(page, "database-cancelled")

    assert "canceling statement due to user request" in str(long.error)
    assert OperatorAction.objects.get().action == "database.cancel_backend"
    assert page.problems == []


def test_an_operator_pauses_and_resumes_a_queue_on_every_worker(
    tmp_path, browser_context, page, start_worker, isolated_broker
):
    telemetry = {"TELEMETRY_INTERVAL": "0.5", "TELEMETRY_KEY_PREFIX": f"test-e2e-{uuid.uuid4().hex[:8]}:telemetry"}
    with realtime_server(tmp_path / "web.log", CELERY_BROKER_KEY_PREFIX=isolated_broker, CONSOLE_CONTROL_TIMEOUT="3",
                         **BROWSER, **telemetry) as server:  # fmt: skip
        start_worker(**telemetry)
        signed_in(browser_context, server, operator())
        page.goto(f"{server.http}/ops/workers")
        worker_row = page.locator('#workers tr[data-state="alive"]')
        expect(worker_row).to_contain_text("cache", timeout=30_000)
        screenshot(page, "workers")

        page.locator('tr[data-queue="cache"]').get_by_role("button", name="Pause…").click()
        screenshot(page, "workers-confirm-pause")
        page.click("#confirm")
        expect(page.locator(".messagelist")).to_contain_text(re.compile(r"Pause queue cache.*answered: celery@"))
        expect(page.locator('tr[data-queue="cache"]')).to_have_attribute("data-paused", "yes")
        expect(worker_row).not_to_contain_text("cache", timeout=10_000)
        screenshot(page, "workers-paused")

        page.locator('tr[data-queue="cache"]').get_by_role("button", name="Resume").click()
        expect(page.locator(".messagelist")).to_contain_text(re.compile(r"Resume queue cache.*answered: celery@"))
        expect(page.locator('tr[data-queue="cache"]')).to_have_attribute("data-paused", "no")
        expect(worker_row).to_contain_text("cache", timeout=10_000)
        screenshot(page, "workers-resumed")

    assert list(OperatorAction.objects.order_by("id").values_list("action", flat=True)) == [
        "workers.pause_queue", "workers.resume_queue"]  # fmt: skip
    assert page.problems == []
