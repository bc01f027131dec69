"""The console in a real browser: log in, look, and keep working when the socket cannot."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD, log_in, operator, screenshot, signed_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_an_operator_logs_in_and_sees_the_live_overview(console_server, page):
    user = operator(username="e2e-operator")

    log_in(page, console_server.http, user.username, PASSWORD)

    expect(page.locator(".banner")).to_be_visible()
    expect(page.locator(".summary-bar a")).to_have_count(8)
    expect(page.locator("#live-badge")).to_have_text("live", timeout=10_000)
    expect(page.locator("#updated-ago")).to_have_text(re.compile(r"updated \d+ s ago"), timeout=10_000)
    screenshot(page, "overview")
    assert page.problems == []


def test_every_console_page_renders_without_a_policy_violation(console_server, browser_context, page):
    signed_in(browser_context, console_server, operator())

    for path, name in [("/ops/?range=24h", "overview-24h"), ("/ops/alerts", "alerts"), ("/ops/audit", "audit")]:
        page.goto(f"{console_server.http}{path}")
        expect(page.locator(".summary-bar")).to_be_visible()
        screenshot(page, name)

    assert page.problems == []


def test_the_admin_index_and_the_console_link_to_each_other(console_server, browser_context, page):
    signed_in(browser_context, console_server, operator())
    page.goto(f"{console_server.http}/admin/")

    page.click("text=Open the live overview")
    expect(page).to_have_url(f"{console_server.http}/ops/")
    page.click(".console-nav >> text=Admin")

    expect(page).to_have_url(f"{console_server.http}/admin/")
    screenshot(page, "admin-index")
    assert page.problems == []


def test_the_admin_works_under_the_content_security_policy(console_server, browser_context, page):
    signed_in(browser_context, console_server, operator())

    for path in [
        "/admin/",
        "/admin/payments/payment/",
        "/admin/deadletters/deadletter/",
        "/admin/console/operatoraction/",
    ]:
        response = page.goto(f"{console_server.http}{path}")
        assert response.status == 200, path
    page.goto(f"{console_server.http}/admin/payments/payment/")
    page.click("#toggle-nav-sidebar")  # the admin's own scripts run

    assert page.problems == []


def test_a_non_staff_user_is_refused(console_server, browser_context, page):
    signed_in(browser_context, console_server, operator(staff=False))

    response = page.goto(f"{console_server.http}/ops/")

    assert response.status == 403
    expect(page.locator("h1")).to_have_text("Not allowed")
    screenshot(page, "refused")


def test_the_page_polls_its_frame_when_the_websocket_is_blocked(console_server, browser_context, page):
    signed_in(browser_context, console_server, operator())
    browser_context.route_web_socket(re.compile(r".*/ws/ops/$"), lambda ws: ws.close(code=1006 - 6))

    page.goto(f"{console_server.http}/ops/")
    with page.expect_response(lambda r: r.url.endswith("/ops/live") and r.status == 200, timeout=10_000):
        pass

    expect(page.locator("#live-badge")).to_have_text("reconnecting · polling")
    expect(page.locator("#updated-ago")).to_have_text(re.compile(r"updated [0-4] s ago"), timeout=10_000)
    screenshot(page, "overview-polling")


def test_updates_pause_while_the_tab_is_hidden(console_server, browser_context, page):
    signed_in(browser_context, console_server, operator())
    page.goto(f"{console_server.http}/ops/")
    expect(page.locator("#live-badge")).to_have_text("live", timeout=10_000)

    page.evaluate(
        "Object.defineProperty(document, 'hidden', {value: true, configurable: true});"
        "document.dispatchEvent(new Event('visibilitychange'))"
    )

    expect(page.locator("#live-badge")).to_have_text("paused")
    requests_while_hidden = []
    page.on("request", lambda r: requests_while_hidden.append(r.url))
    page.wait_for_timeout(2500)
    assert requests_while_hidden == []
