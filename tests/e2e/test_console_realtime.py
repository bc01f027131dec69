"""The realtime page in a real browser: the page's own socket shows up against its instance's cap."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import operator, screenshot, signed_in
from tests.support.realtime import realtime_server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_the_realtime_page_counts_the_operators_own_socket(tmp_path, browser_context, page):
    telemetry = {"TELEMETRY_INTERVAL": "0.5", "TELEMETRY_KEY_PREFIX": f"test-e2e-{uuid.uuid4().hex[:8]}:telemetry"}
    with realtime_server(
        tmp_path / "web.log", SESSION_COOKIE_SECURE="0", CSRF_COOKIE_SECURE="0", **telemetry
    ) as server:
        signed_in(browser_context, server, operator(username="e2e-watcher"))
        page.goto(f"{server.http}/ops/realtime")
        expect(page.locator("#live-badge")).to_have_text("live", timeout=10_000)

        row = page.locator("#rt-instances tr[data-instance]")
        expect(row).to_have_count(1, timeout=15_000)
        expect(row.locator("td").nth(2)).to_have_text(re.compile(r"^1 / "), timeout=15_000)
        expect(page.locator("#rt-users tr[data-user]")).to_contain_text("e2e-watcher", timeout=15_000)
        expect(row).to_have_attribute("data-level", "ok")
        screenshot(page, "realtime")
        assert page.problems == []
