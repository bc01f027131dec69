"""The admin's operator pages in a real browser, under the content security policy."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import operator, screenshot, signed_in
from tests.factories import AllocationFactory, PaymentFactory, TrainerFactory
from tests.workers.factories import DeadLetterFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_a_dry_run_on_a_dead_letters_page_answers_in_green_and_its_argument_opens_the_payment(
    console_server, browser_context, page
):
    signed_in(browser_context, console_server, operator())
    payment = PaymentFactory(status="succeeded")
    letter = DeadLetterFactory(task_name="purchases.create_from_payment", args=[payment.id])
    page.goto(f"{console_server.http}/admin/deadletters/deadletter/{letter.id}/change/")

    page.click("button[name=dry_run]")

    expect(page.locator(".messagelist .success")).to_contain_text("would run")
    screenshot(page, "admin-dead-letter")
    page.click(f"a[href='/admin/payments/payment/{payment.id}/change/']")
    expect(page).to_have_url(f"{console_server.http}/admin/payments/payment/{payment.id}/change/")
    assert page.problems == []


def test_the_trainer_list_shows_load_against_capacity_in_colour(console_server, browser_context, page):
    signed_in(browser_context, console_server, operator())
    trainer = TrainerFactory(capacity=1, full_name="Ada Full")
    AllocationFactory(trainer=trainer)

    page.goto(f"{console_server.http}/admin/directory/trainer/")

    load = page.locator(".load-full", has_text="1 / 1")
    expect(load).to_be_visible()
    assert load.evaluate("e => getComputedStyle(e).fontWeight") == "700"  # the stylesheet applied under the CSP
    screenshot(page, "admin-trainers")
    assert page.problems == []
