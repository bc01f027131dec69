"""The overview follows the cluster live: real uvicorn, a real worker, the real telemetry."""

from __future__ import annotations

import json
import re
import uuid

import pytest
import requests
from playwright.sync_api import expect

from tests.e2e.conftest import operator, screenshot, signed_in
from tests.factories import CourseFactory, StudentFactory
from tests.support.provider import sandbox_provider_process
from tests.support.realtime import realtime_server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

TOKEN = "e2e-console-token-0123456789abcdef"
INTERVAL = 0.5  # seconds between telemetry snapshots: a dead process is gone within 1.5 s


def telemetry_env(prefix: str) -> dict[str, str]:
    return {"TELEMETRY_INTERVAL": str(INTERVAL), "TELEMETRY_KEY_PREFIX": prefix, "TELEMETRY_WINDOW": "60"}


def test_a_payment_made_through_the_api_moves_the_live_numbers_without_a_reload(
    tmp_path, browser_context, page, isolated_broker
):
    telemetry = telemetry_env(f"test-e2e-{uuid.uuid4().hex[:8]}:telemetry")
    student, course = StudentFactory(), CourseFactory()
    with (
        sandbox_provider_process(log_path=tmp_path / "provider.log", webhook_secret="whsec-e2e") as provider,
        realtime_server(
            tmp_path / "web.log", SESSION_COOKIE_SECURE="0", CSRF_COOKIE_SECURE="0", API_TOKENS=TOKEN,
            PAYMENT_PROVIDER_URL=provider.url, PAYMENT_WEBHOOK_SECRET="whsec-e2e",
            CELERY_BROKER_KEY_PREFIX=isolated_broker, **telemetry,
        ) as server,
    ):  # fmt: skip
        signed_in(browser_context, server, operator())
        page.goto(f"{server.http}/ops/")
        expect(page.locator("#live-badge")).to_have_text("live", timeout=10_000)
        requests_value = page.locator('[data-key="http_rps"] .value')
        expect(requests_value).to_have_text(re.compile(r"req/s"), timeout=10_000)
        before = requests_value.inner_text()

        response = requests.post(
            f"{server.http}/api/payments",
            data=json.dumps({"student_id": student.id, "course_id": course.id, "amount": "90.00", "currency": "EUR"}),
            headers={
                "Authorization": f"Bearer {TOKEN}",
                "Content-Type": "application/json",
                "Idempotency-Key": "e2e-1",
            },
            timeout=10,
        )
        assert response.status_code in (200, 201), response.text

        expect(requests_value).not_to_have_text(before, timeout=5_000)
        assert page.url == f"{server.http}/ops/"  # no reload, no navigation
        screenshot(page, "overview-live")


def test_killing_the_worker_turns_its_health_red_and_the_banner_says_so(
    tmp_path, browser_context, page, start_worker, isolated_broker
):
    telemetry = telemetry_env(f"test-e2e-{uuid.uuid4().hex[:8]}:telemetry")
    with realtime_server(
        tmp_path / "web.log", SESSION_COOKIE_SECURE="0", CSRF_COOKIE_SECURE="0",
        CELERY_BROKER_KEY_PREFIX=isolated_broker, **telemetry,
    ) as server:  # fmt: skip
        worker = start_worker(**telemetry)
        signed_in(browser_context, server, operator())
        page.goto(f"{server.http}/ops/")
        workers_row = page.locator('tr[data-health="workers"]')
        expect(workers_row).to_have_attribute("data-state", "ok", timeout=30_000)
        screenshot(page, "overview-worker-alive")

        worker.kill()

        # 3 telemetry intervals for the snapshot to expire, plus a 2 s overview cache and a 2 s frame.
        expect(workers_row).to_have_attribute("data-state", "down", timeout=(3 * INTERVAL + 4.5) * 1000)
        expect(page.locator('tr[data-health="workers"] .chip')).to_have_class(re.compile("chip-bad"))
        expect(page.locator(".banner")).not_to_have_attribute("data-level", "ok")
        expect(page.locator(".banner-reasons")).to_contain_text("workers down")
        screenshot(page, "overview-worker-down")
