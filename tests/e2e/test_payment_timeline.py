"""An operator finds a payment by the correlation id in a log line and sees everything it caused, live."""

from __future__ import annotations

import json
import uuid

import pytest
import requests
from playwright.sync_api import expect

from tests.e2e.conftest import operator, screenshot, signed_in
from tests.factories import CourseFactory, StudentFactory, TrainerFactory
from tests.support.provider import sandbox_provider_process
from tests.support.realtime import realtime_server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

TOKEN = "e2e-timeline-token-0123456789abcdef"
FLUSH = {"TIMELINE_FLUSH_INTERVAL": "0.2"}


def test_an_operator_finds_a_payment_by_correlation_id_and_sees_its_whole_timeline(
    tmp_path, browser_context, page, start_worker, isolated_broker
):
    student, course = StudentFactory(), CourseFactory(sessions_per_purchase=2)
    TrainerFactory(capacity=5).courses.add(course)
    correlation_id = f"e2e-timeline-{uuid.uuid4().hex[:12]}"
    with (
        sandbox_provider_process(log_path=tmp_path / "provider.log", webhook_secret="whsec-e2e") as provider,
        realtime_server(
            tmp_path / "web.log", SESSION_COOKIE_SECURE="0", CSRF_COOKIE_SECURE="0", API_TOKENS=TOKEN,
            PAYMENT_PROVIDER_URL=provider.url, PAYMENT_WEBHOOK_SECRET="whsec-e2e",
            CELERY_BROKER_KEY_PREFIX=isolated_broker, **FLUSH,
        ) as server,
    ):  # fmt: skip
        start_worker(PAYMENT_PROVIDER_URL=provider.url, **FLUSH)
        response = requests.post(
            f"{server.http}/api/payments",
            data=json.dumps({"student_id": student.id, "course_id": course.id, "amount": "90.00", "currency": "EUR"}),
            headers={
                "Authorization": f"Bearer {TOKEN}",
                "Content-Type": "application/json",
                "Idempotency-Key": f"e2e-timeline-{uuid.uuid4().hex[:8]}",
                "X-Correlation-ID": correlation_id,
            },
            timeout=10,
        )
        assert response.status_code in (200, 201), response.text
        payment_id = response.json()["id"]
        signed_in(browser_context, server, operator())

        page.goto(f"{server.http}/ops/payments")
        screenshot(page, "payments-search")
        page.fill("#timeline-q", correlation_id)
        page.click(".timeline-search button[type=submit]")

        page.wait_for_url(f"{server.http}/ops/payments/{payment_id}?q={correlation_id}")
        events = page.locator("#timeline-events")
        # The state changes with their actor, then the provider's call, written in the request.
        expect(events).to_contain_text("created (90.00 EUR) by api")
        expect(events).to_contain_text("created → pending by api")
        expect(events).to_contain_text("pending → succeeded by api")
        expect(events).to_contain_text("provider charge: succeeded")
        # The pipeline's tasks arrive on the open page as the worker runs them (the region polls).
        for task in ("purchases.create_from_payment", "allocations.assign_trainer", "tutoring.schedule_sessions"):
            expect(events).to_contain_text(f"{task} succeeded", timeout=20_000)
        expect(events).to_contain_text("pipeline.notify_allocation succeeded", timeout=20_000)
        expect(events).to_contain_text("allocation.scheduled pushed to")
        expect(events).to_contain_text("payment.succeeded pushed to")
        page.reload()
        expect(page.locator("#caused")).to_contain_text("Purchase #")
        expect(page.locator("#caused")).to_contain_text("active")
        expect(page.locator("#caused")).to_contain_text("2 sessions")
        expect(page.locator(".correlation-ids")).to_contain_text(correlation_id)
        screenshot(page, "payment-timeline")
        assert page.problems == []
