from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from apps.outbox.models import OutboxMessage
from apps.pipeline.services import pipeline_resume_stalled
from apps.workers.models import DeadLetter
from tests.factories import AllocationFactory, PaymentFactory, PurchaseFactory
from tests.workers.factories import DeadLetterFactory

pytestmark = pytest.mark.django_db

NOW = datetime.timedelta(0)


def _handed_off() -> dict[str, list[int]]:
    """What the resume job wrote to the outbox, by task name (the test's transaction never commits: nothing is sent)."""
    sent: dict[str, list[int]] = {}
    for task_name, (object_id,) in OutboxMessage.objects.order_by("id").values_list("task_name", "args"):
        sent.setdefault(task_name, []).append(object_id)
    return sent


def test_resume_skips_a_stalled_payment_whose_step_has_an_open_dead_letter():
    failing, stalled = PaymentFactory(), PaymentFactory()
    DeadLetterFactory(task_name="purchases.create_from_payment", args=[failing.id])

    summary = pipeline_resume_stalled(older_than=NOW)

    assert _handed_off() == {"purchases.create_from_payment": [stalled.id]}
    assert (summary.purchases, summary.skipped) == (1, 1)


@pytest.mark.parametrize("closed", [DeadLetter.Status.RESOLVED, DeadLetter.Status.DISCARDED])
def test_resume_enqueues_a_stalled_payment_whose_dead_letter_was_closed(closed):
    payment = PaymentFactory()
    DeadLetterFactory(
        task_name="purchases.create_from_payment", args=[payment.id], status=closed, resolved_at=timezone.now()
    )

    summary = pipeline_resume_stalled(older_than=NOW)

    assert _handed_off() == {"purchases.create_from_payment": [payment.id]}
    assert summary.skipped == 0


def test_resume_skips_only_the_step_kind_the_open_letter_names():
    purchase = PurchaseFactory()
    allocation = AllocationFactory()
    DeadLetterFactory(task_name="allocations.assign_trainer", args=[purchase.id])
    DeadLetterFactory(task_name="purchases.create_from_payment", args=[allocation.id])  # another step's id

    summary = pipeline_resume_stalled(older_than=NOW)

    assert _handed_off() == {"tutoring.schedule_sessions": [allocation.id]}
    assert (summary.allocations, summary.schedules, summary.skipped) == (0, 1, 1)


def test_resume_checks_open_letters_for_every_step_kind_in_its_three_queries(django_assert_num_queries):
    for _ in range(3):
        payment, purchase, allocation = PaymentFactory(), PurchaseFactory(), AllocationFactory()
        DeadLetterFactory(task_name="purchases.create_from_payment", args=[payment.id])
        DeadLetterFactory(task_name="allocations.assign_trainer", args=[purchase.id])
        DeadLetterFactory(task_name="tutoring.schedule_sessions", args=[allocation.id])

    with django_assert_num_queries(3):
        summary = pipeline_resume_stalled(older_than=NOW)

    assert _handed_off() == {}
    assert summary.skipped == 9


def test_resume_fills_its_limit_with_resumable_steps_before_dead_lettered_ones():
    blocked = [PaymentFactory() for _ in range(3)]
    for payment in blocked:
        DeadLetterFactory(task_name="purchases.create_from_payment", args=[payment.id])
    resumable = PaymentFactory()

    summary = pipeline_resume_stalled(older_than=NOW, limit=2)

    assert _handed_off() == {"purchases.create_from_payment": [resumable.id]}
    assert (summary.purchases, summary.skipped) == (1, 1)


def test_the_resume_summary_is_logged_with_the_skipped_count(caplog):
    payment = PaymentFactory()
    DeadLetterFactory(task_name="purchases.create_from_payment", args=[payment.id])

    pipeline_resume_stalled(older_than=NOW)

    [event] = [r.msg for r in caplog.records if isinstance(r.msg, dict) and r.msg.get("event") == "pipeline_resumed"]
    assert (event["purchases"], event["skipped"]) == (0, 1)
