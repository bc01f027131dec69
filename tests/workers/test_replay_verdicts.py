"""The dry run's verdict per letter: would run, already applied (skip), arguments invalid or payment refunded (refuse)."""

from __future__ import annotations

import pytest

from apps.payments.models import PaymentStatus
from apps.workers.models import DeadLetter, DeadLetterAction
from apps.workers.services import ReplayVerdict, deadletter_dry_run, deadletter_replay, deadletter_replay_plan
from tests.factories import AllocationFactory, PaymentFactory, PurchaseFactory
from tests.workers.factories import DeadLetterFactory

pytestmark = pytest.mark.django_db


def _verdict(letter: DeadLetter) -> str:
    return deadletter_replay_plan(letter=letter).verdict


def test_a_letter_whose_work_is_still_undone_would_run():
    letter = DeadLetterFactory(args=[PaymentFactory().id])

    assert _verdict(letter) == ReplayVerdict.WOULD_RUN


def test_a_letter_whose_work_took_effect_since_is_skipped_as_already_applied():
    letter = DeadLetterFactory(args=[PurchaseFactory().payment_id])

    assert _verdict(letter) == ReplayVerdict.ALREADY_APPLIED


@pytest.mark.parametrize("args", [[1, 2], [], ["12"], [True]], ids=["too many", "too few", "a string", "a bool"])
def test_arguments_that_no_longer_fit_the_tasks_signature_are_refused(args):
    plan = deadletter_replay_plan(letter=DeadLetterFactory(args=args))

    assert plan.verdict == ReplayVerdict.INVALID_ARGUMENTS
    assert not plan.will_enqueue
    assert "arguments no longer valid" in plan.explanation


def test_an_unknown_keyword_argument_is_refused():
    letter = DeadLetterFactory(args=[], kwargs={"payment": 5})

    assert _verdict(letter) == ReplayVerdict.INVALID_ARGUMENTS


def test_a_letter_whose_payment_was_refunded_since_is_refused():
    letter = DeadLetterFactory(args=[PaymentFactory(status=PaymentStatus.REFUNDED).id])

    plan = deadletter_replay_plan(letter=letter)

    assert plan.verdict == ReplayVerdict.PAYMENT_REFUNDED
    assert "refunded" in plan.explanation


def test_a_later_steps_letter_is_refused_when_the_payment_it_came_from_was_refunded():
    allocation = AllocationFactory(purchase__payment__status=PaymentStatus.REFUNDED)
    letter = DeadLetterFactory(task_name="pipeline.notify_allocation", queue="cache", args=[allocation.id])

    assert _verdict(letter) == ReplayVerdict.PAYMENT_REFUNDED


def test_a_closed_letter_is_not_replayable():
    letter = DeadLetterFactory(status=DeadLetter.Status.DISCARDED)

    assert _verdict(letter) == ReplayVerdict.NOT_REPLAYABLE


def test_replaying_a_refused_letter_sends_nothing_keeps_it_open_and_says_why_in_its_history():
    letter = DeadLetterFactory(args=[PaymentFactory(status=PaymentStatus.REFUNDED).id])

    plan = deadletter_replay(deadletter_id=letter.id)

    letter.refresh_from_db()
    assert (plan.will_enqueue, letter.status, letter.replayed_task_id) == (False, "new", "")
    refusal = DeadLetterAction.objects.get(dead_letter=letter, kind=DeadLetterAction.Kind.REPLAY_REFUSED)
    assert refusal.detail["verdict"] == ReplayVerdict.PAYMENT_REFUNDED


def test_the_dry_run_changes_nothing():
    letters = [DeadLetterFactory(args=[PaymentFactory().id]), DeadLetterFactory(args=[1, 2])]

    plans = deadletter_dry_run(deadletter_ids=[letter.id for letter in letters])

    assert [p.verdict for p in plans] == [ReplayVerdict.WOULD_RUN, ReplayVerdict.INVALID_ARGUMENTS]
    assert set(DeadLetter.objects.values_list("status", flat=True)) == {"new"}
    assert not DeadLetterAction.objects.exclude(kind="recorded").exists()
