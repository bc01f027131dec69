"""Dead letters in a real browser: replay all matching with a dry run first, carried out by a real worker."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from apps.console.models import OperatorAction
from apps.payments.models import PaymentStatus
from apps.workers.models import DeadLetter, DeadLetterReplayJob
from tests.e2e.conftest import operator, screenshot, signed_in
from tests.factories import PaymentFactory, PurchaseFactory
from tests.support.realtime import realtime_server
from tests.support.waiting import wait_until
from tests.workers.factories import DeadLetterFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_replay_all_matching_with_a_dry_run(tmp_path, browser_context, page, start_worker, isolated_broker):
    undone = [DeadLetterFactory(args=[PaymentFactory().id], exception_class="x.ProviderDown") for _ in range(2)]
    applied = DeadLetterFactory(args=[PurchaseFactory().payment_id], exception_class="x.ProviderDown")
    refunded = DeadLetterFactory(
        args=[PaymentFactory(status=PaymentStatus.REFUNDED).id], exception_class="x.ProviderDown"
    )
    other = DeadLetterFactory(args=[PaymentFactory().id], exception_class="x.Unrelated", queue="default")
    start_worker()
    with realtime_server(
        tmp_path / "web.log",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
        CELERY_BROKER_KEY_PREFIX=isolated_broker,
    ) as server:
        signed_in(browser_context, server, operator(username="e2e-replayer"))
        page.goto(f"{server.http}/ops/dead-letters")
        expect(page.locator('#groups tr[data-group="purchases.create_from_payment|x.ProviderDown"]')).to_contain_text(
            "4"
        )
        screenshot(page, "dead-letters")

        page.click('#groups a:has-text("x.ProviderDown")')  # filter to the group
        expect(page.locator("#letters tr[data-letter]")).to_have_count(4)
        page.click("#replay-matching")

        expect(page.locator("h1")).to_have_text("Replay: dry run")
        verdicts = {
            letter.id: page.locator(f'tr[data-plan="{letter.id}"]').get_attribute("data-verdict")
            for letter in [*undone, applied, refunded]
        }
        assert verdicts == {
            undone[0].id: "would_run", undone[1].id: "would_run", applied.id: "already_applied",
            refunded.id: "payment_refunded",
        }  # fmt: skip
        expect(page.locator(f'tr[data-plan="{other.id}"]')).to_have_count(0)
        assert DeadLetterReplayJob.objects.count() == 0  # nothing sent by the dry run
        screenshot(page, "dead-letters-dry-run")

        page.click("#confirm-replay")
        expect(page).to_have_url(re.compile(r"/ops/dead-letters/jobs/\d+$"))
        expect(page.locator("#job")).to_have_attribute("data-status", "succeeded", timeout=30_000)
        expect(page.locator('#job [data-field="done"]')).to_have_text("4")
        expect(page.locator('#job [data-field="replayed"]')).to_have_text("2")
        screenshot(page, "dead-letters-job")

        # The worker ran the replays: each resolves its letter when its task succeeds.
        wait_until(
            lambda: (
                set(DeadLetter.objects.filter(id__in=[x.id for x in undone]).values_list("status", flat=True))
                == {"resolved"}
            ),
            timeout=30,
            what="the replayed letters to resolve",
        )
        assert DeadLetter.objects.get(id=applied.id).status == "resolved"
        assert DeadLetter.objects.get(id=refunded.id).status == "new"
        assert DeadLetter.objects.get(id=other.id).status == "new"
        actions = set(OperatorAction.objects.values_list("action", "actor_username"))
        assert {
            ("deadletter.replay_job.started", "e2e-replayer"),
            ("deadletter.replay_job.finished", "e2e-replayer"),
        } <= actions
        assert page.problems == []
