"""Replay jobs: many letters, throttled, in id order, with progress a cancel can stop, audited at the end."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from apps.console.models import OperatorAction
from apps.outbox.models import OutboxMessage
from apps.payments.models import PaymentStatus
from apps.workers.models import DeadLetter, DeadLetterReplayJob
from apps.workers.selectors import DeadLetterFilter
from apps.workers.services import (
    REPLAY_JOB_TASK,
    deadletter_replay_job_cancel,
    deadletter_replay_job_create,
    deadletter_replay_job_run,
)
from tests.factories import PaymentFactory, PurchaseFactory, StaffUserFactory
from tests.workers.factories import DeadLetterFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_replays(settings):
    settings.DEADLETTER_REPLAY_RATE = 1000.0


def _mixed_letters() -> list[DeadLetter]:
    return [
        DeadLetterFactory(args=[PaymentFactory().id]),  # would run
        DeadLetterFactory(args=[PurchaseFactory().payment_id]),  # already applied
        DeadLetterFactory(args=[PaymentFactory(status=PaymentStatus.REFUNDED).id]),  # refunded
        DeadLetterFactory(args=["x"]),  # invalid
    ]


def _job(**kwargs) -> DeadLetterReplayJob:
    newest = DeadLetter.objects.order_by("-id").values_list("id", flat=True).first() or 0
    return deadletter_replay_job_create(actor=StaffUserFactory(), max_letter_id=newest, **kwargs)


def test_a_job_replays_every_matching_letter_and_counts_each_verdict():
    letters = _mixed_letters()
    job = _job(filters=DeadLetterFilter(task_name="purchases.create_from_payment"))

    assert deadletter_replay_job_run(job_id=job.id, budget_s=10) is False

    job.refresh_from_db()
    assert (job.status, job.total, job.done) == ("succeeded", 4, 4)
    assert (job.replayed, job.skipped, job.refused, job.errors) == (1, 1, 2, 0)
    assert job.cursor == letters[-1].id
    statuses = dict(DeadLetter.objects.values_list("id", "status"))
    assert [statuses[letter.id] for letter in letters] == ["replayed", "resolved", "new", "new"]


def test_the_job_is_written_with_its_task_in_one_transaction():
    DeadLetterFactory()

    job = _job()

    assert OutboxMessage.objects.filter(task_name=REPLAY_JOB_TASK, args=[job.id]).exists()


def test_the_end_of_a_job_is_in_the_audit_trail_under_the_operator():
    DeadLetterFactory(args=[PaymentFactory().id])
    job = _job()

    deadletter_replay_job_run(job_id=job.id, budget_s=10)

    row = OperatorAction.objects.get(action="deadletter.replay_job.finished")
    assert (row.actor_id, row.target, row.outcome) == (job.actor_id, f"replay job {job.id}", "succeeded")
    assert row.detail["replayed"] == 1


def test_letters_filed_after_the_dry_run_are_left_to_the_operator():
    first = DeadLetterFactory(args=[PaymentFactory().id])
    job = _job()
    later = DeadLetterFactory(args=[PaymentFactory().id])

    deadletter_replay_job_run(job_id=job.id, budget_s=10)

    assert DeadLetter.objects.get(id=first.id).status == "replayed"
    assert DeadLetter.objects.get(id=later.id).status == "new"


def test_a_job_of_selected_letters_replays_those_only():
    chosen, other = DeadLetterFactory(args=[PaymentFactory().id]), DeadLetterFactory(args=[PaymentFactory().id])
    job = _job(letter_ids=[chosen.id])

    deadletter_replay_job_run(job_id=job.id, budget_s=10)

    assert DeadLetter.objects.get(id=chosen.id).status == "replayed"
    assert DeadLetter.objects.get(id=other.id).status == "new"


def test_a_job_out_of_time_hands_itself_on_with_its_progress():
    DeadLetterFactory(args=[PaymentFactory().id])
    job = _job()
    OutboxMessage.objects.all().delete()

    assert deadletter_replay_job_run(job_id=job.id, budget_s=0) is True

    job.refresh_from_db()
    assert (job.status, job.done, job.lease_until) == ("running", 0, None)
    assert OutboxMessage.objects.filter(task_name=REPLAY_JOB_TASK, args=[job.id]).count() == 1


def test_a_job_another_worker_holds_is_not_run_twice():
    DeadLetterFactory(args=[PaymentFactory().id])
    job = _job()
    DeadLetterReplayJob.objects.filter(id=job.id).update(
        status="running", lease_until=timezone.now() + datetime.timedelta(minutes=1)
    )

    assert deadletter_replay_job_run(job_id=job.id, budget_s=10) is False
    assert DeadLetterReplayJob.objects.get(id=job.id).done == 0


def test_a_cancelled_job_replays_nothing_more():
    DeadLetterFactory(args=[PaymentFactory().id])
    job = _job()

    assert deadletter_replay_job_cancel(job_id=job.id, actor=None) is True
    deadletter_replay_job_run(job_id=job.id, budget_s=10)

    job.refresh_from_db()
    assert (job.status, job.done) == ("cancelled", 0)
    assert DeadLetter.objects.get().status == "new"


def test_a_finished_job_cannot_be_cancelled():
    DeadLetterFactory(args=[PaymentFactory().id])
    job = _job()
    deadletter_replay_job_run(job_id=job.id, budget_s=10)

    assert deadletter_replay_job_cancel(job_id=job.id, actor=None) is False


def test_replays_are_throttled_to_the_configured_rate(settings):
    settings.DEADLETTER_REPLAY_RATE = 4.0  # one letter every 0.25 s
    for _ in range(5):
        DeadLetterFactory(args=[PaymentFactory().id])
    job = _job()

    deadletter_replay_job_run(job_id=job.id, budget_s=0.6)

    job.refresh_from_db()
    assert job.status == "running"
    assert 1 <= job.done <= 3
