from __future__ import annotations

import datetime
import threading
from dataclasses import replace
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apps.directory.models import Student
from apps.pipeline.tasks import purchases_create_from_payment
from apps.purchases.models import StudentCoursePurchase
from apps.workers.models import DeadLetter, DeadLetterAction
from apps.workers.retry import DeadLetterReason
from apps.workers.selectors import DeadLetterFilter, deadletter_groups_by_exception
from apps.workers.services import (
    DeadLetterError,
    DeadLetterRecord,
    deadletter_discard,
    deadletter_dry_run,
    deadletter_mark_resolved_by_replay,
    deadletter_prune,
    deadletter_record,
    deadletter_replay,
    deadletter_replay_matching,
)
from tests.factories import PaymentFactory, PurchaseFactory, StaffUserFactory
from tests.support.waiting import wait_until
from tests.workers.factories import DeadLetterFactory

pytestmark = pytest.mark.django_db


def _record(task_id: str = "task-1", **changes: Any) -> DeadLetterRecord:
    record = DeadLetterRecord(
        task_id=task_id,
        task_name="purchases.create_from_payment",
        queue="purchases",
        args=[1],
        kwargs={},
        exception_class="builtins.RuntimeError",
        message="boom",
        traceback="Traceback ...",
        reason=DeadLetterReason.PERMANENT,
        attempts=1,
        deliveries=1,
    )
    return replace(record, **changes)


def test_recording_the_same_task_twice_keeps_one_letter_and_counts_the_failures():
    deadletter_record(record=_record())
    letter = deadletter_record(record=_record())

    assert DeadLetter.objects.count() == 1
    assert letter.failures == 2
    assert list(letter.actions.values_list("kind", flat=True)) == ["recorded"]


def test_the_same_task_failing_for_good_three_times_files_one_letter_counted_three_times():
    payment = PaymentFactory(student__status=Student.Status.PAUSED)

    for _ in range(3):
        purchases_create_from_payment.apply(args=[payment.id])

    letter = DeadLetter.objects.get()
    assert (letter.args, letter.failures, letter.status) == ([payment.id], 3, DeadLetter.Status.NEW)
    assert letter.last_failed_at > letter.first_failed_at
    assert list(letter.actions.values_list("kind", flat=True)) == ["recorded"]


def test_a_repeated_failure_keeps_the_latest_error_task_id_and_correlation_id():
    deadletter_record(record=_record("task-1", message="first", correlation_id="trace-1"))

    letter = deadletter_record(record=_record("task-2", message="second", correlation_id="trace-2", attempts=5))

    letter.refresh_from_db()
    assert (letter.task_id, letter.message, letter.correlation_id, letter.attempts) == (
        "task-2",
        "second",
        "trace-2",
        5,
    )
    assert letter.failures == 2


@pytest.mark.parametrize(
    "other",
    [
        pytest.param({"args": [2]}, id="other-args"),
        pytest.param({"kwargs": {"force": True}}, id="other-kwargs"),
        pytest.param({"task_name": "allocations.assign_trainer"}, id="other-task"),
    ],
)
def test_a_failure_of_another_call_files_its_own_letter(other):
    deadletter_record(record=_record("task-1"))

    deadletter_record(record=_record("task-2", **other))

    assert DeadLetter.objects.count() == 2


def test_keyword_arguments_in_another_order_are_the_same_call():
    deadletter_record(record=_record("task-1", kwargs={"a": 1, "bb": [1, {"x": 1, "y": 2}]}))

    deadletter_record(record=_record("task-2", kwargs={"bb": [1, {"y": 2, "x": 1}], "a": 1}))

    assert DeadLetter.objects.get().failures == 2


@pytest.mark.parametrize("closed", [DeadLetter.Status.RESOLVED, DeadLetter.Status.DISCARDED])
def test_a_failure_after_the_letter_was_closed_opens_a_new_letter(closed):
    first = deadletter_record(record=_record("task-1"))
    DeadLetter.objects.filter(id=first.id).update(status=closed, resolved_at=timezone.now())

    second = deadletter_record(record=_record("task-2"))

    first.refresh_from_db()
    assert second.id != first.id
    assert (first.status, first.failures) == (closed, 1)
    assert (second.status, second.failures) == (DeadLetter.Status.NEW, 1)


def test_a_replayed_letter_that_fails_again_is_counted_and_goes_back_to_new():
    letter = deadletter_record(record=_record("task-1"))
    plan = deadletter_replay(deadletter_id=letter.id, actor=None)

    deadletter_record(record=_record(plan.task_id, message="still failing"))

    letter.refresh_from_db()
    assert DeadLetter.objects.count() == 1
    assert (letter.status, letter.failures, letter.message) == (DeadLetter.Status.NEW, 2, "still failing")
    assert list(letter.actions.order_by("id").values_list("kind", flat=True)) == ["recorded", "replayed", "recorded"]
    assert letter.actions.order_by("id").last().detail == {
        "reason": "permanent",
        "task_id": plan.task_id,
        "after_replay": plan.task_id,
    }


def test_a_replay_that_succeeds_resolves_its_letter_even_after_the_call_failed_again_elsewhere():
    letter = deadletter_record(record=_record("task-1"))
    plan = deadletter_replay(deadletter_id=letter.id, actor=None)
    deadletter_record(record=_record("task-3"))

    resolved = deadletter_mark_resolved_by_replay(deadletter_id=letter.id, task_id=plan.task_id)

    letter.refresh_from_db()
    assert resolved
    assert letter.status == DeadLetter.Status.RESOLVED


def test_the_database_refuses_a_second_open_letter_for_the_same_call():
    DeadLetterFactory(args=[7])

    with pytest.raises(IntegrityError), transaction.atomic():
        DeadLetterFactory(args=[7])


@pytest.mark.django_db(transaction=True)
def test_two_workers_recording_the_same_call_at_once_file_one_letter():
    first_inserted, done = threading.Event(), threading.Event()

    def first_worker() -> None:
        # Holds its new letter uncommitted until the second recorder waits on the unique index.
        try:
            with transaction.atomic():
                deadletter_record(record=_record("task-1"))
                first_inserted.set()
                _wait_until_a_backend_waits_on_a_lock()
        finally:
            connection.close()
            done.set()

    thread = threading.Thread(target=first_worker)
    thread.start()
    assert first_inserted.wait(10)
    letter = deadletter_record(record=_record("task-2"))
    thread.join(10)

    assert done.is_set()
    assert DeadLetter.objects.count() == 1
    letter.refresh_from_db()
    assert (letter.task_id, letter.failures) == ("task-2", 2)


def _wait_until_a_backend_waits_on_a_lock(timeout: float = 10.0) -> None:
    """Runs a query per poll."""

    def a_backend_waits() -> bool:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            return bool(cursor.fetchone()[0])

    wait_until(
        a_backend_waits, timeout=timeout, interval=0.05, what="the second recorder to wait on the first's insert"
    )


def test_replaying_work_that_already_took_effect_enqueues_nothing_and_resolves_the_letter():
    purchase = PurchaseFactory()
    letter = DeadLetterFactory(args=[purchase.payment_id])
    staff = StaffUserFactory()

    plan = deadletter_replay(deadletter_id=letter.id, actor=staff)

    letter.refresh_from_db()
    assert not plan.will_enqueue
    assert plan.explanation.startswith("already applied")
    assert letter.status == DeadLetter.Status.RESOLVED
    assert StudentCoursePurchase.objects.count() == 1
    assert letter.actions.get(kind="replay_skipped").actor == staff


def test_a_replay_is_enqueued_under_a_new_task_id_and_audited_with_the_staff_user(django_capture_on_commit_callbacks):
    letter = DeadLetterFactory()
    staff = StaffUserFactory()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        plan = deadletter_replay(deadletter_id=letter.id, actor=staff)

    letter.refresh_from_db()
    assert plan.will_enqueue and len(callbacks) == 1
    assert (letter.status, letter.replayed_task_id, letter.replay_count) == ("replayed", plan.task_id, 1)
    assert letter.actions.get(kind="replayed").actor == staff


def test_a_dry_run_describes_the_replay_and_changes_nothing():
    letter = DeadLetterFactory()

    [plan] = deadletter_dry_run(deadletter_ids=[letter.id])

    letter.refresh_from_db()
    assert plan.will_enqueue
    assert letter.status == DeadLetter.Status.NEW
    assert not DeadLetterAction.objects.exists()


def test_replay_matching_touches_only_matching_open_letters_and_staggers_them(settings):
    settings.DEADLETTER_REPLAY_RATE = 10
    wanted = DeadLetterFactory.create_batch(3, exception_class="x.Timeout")
    DeadLetterFactory(exception_class="x.Other")
    DeadLetterFactory(exception_class="x.Timeout", status=DeadLetter.Status.DISCARDED)

    plans = deadletter_replay_matching(filters=DeadLetterFilter(exception_class="x.Timeout"), actor=None)

    assert sorted(p.deadletter_id for p in plans) == sorted(w.id for w in wanted)
    assert sorted(p.countdown for p in plans) == pytest.approx([0.0, 0.1, 0.2])


def test_a_discard_needs_a_reason_and_is_audited():
    letter = DeadLetterFactory()
    staff = StaffUserFactory()

    with pytest.raises(DeadLetterError):
        deadletter_discard(deadletter_id=letter.id, actor=staff, reason=" ")
    deadletter_discard(deadletter_id=letter.id, actor=staff, reason="refunded by hand")

    letter.refresh_from_db()
    assert letter.status == DeadLetter.Status.DISCARDED
    assert letter.actions.get(kind="discarded").detail == {"reason": "refunded by hand"}


def test_a_discarded_letter_cannot_be_replayed():
    letter = DeadLetterFactory(status=DeadLetter.Status.DISCARDED)

    plan = deadletter_replay(deadletter_id=letter.id, actor=None)

    assert not plan.will_enqueue
    assert DeadLetter.objects.get().status == DeadLetter.Status.DISCARDED


def test_pruning_removes_only_old_closed_letters_and_leaves_an_audit_row(settings):
    settings.DEADLETTER_RETENTION_DAYS = 30
    old = timezone.now() - datetime.timedelta(days=31)
    expired = DeadLetterFactory(status=DeadLetter.Status.RESOLVED, resolved_at=old)
    DeadLetterFactory(status=DeadLetter.Status.RESOLVED, resolved_at=timezone.now())
    DeadLetterFactory(status=DeadLetter.Status.NEW)

    pruned = deadletter_prune()

    assert pruned == 1
    assert not DeadLetter.objects.filter(id=expired.id).exists()
    assert DeadLetter.objects.count() == 2
    assert DeadLetterAction.objects.get(kind="pruned").detail["ids"] == [expired.id]


def test_open_letters_are_grouped_by_exception_class():
    DeadLetterFactory.create_batch(2, exception_class="x.A")
    DeadLetterFactory(exception_class="x.B")

    groups = deadletter_groups_by_exception()

    assert [(g["exception_class"], g["count"]) for g in groups] == [("x.A", 2), ("x.B", 1)]


def test_a_replay_that_fails_after_its_letter_was_closed_files_a_new_letter_naming_the_old_one():
    letter = deadletter_record(record=_record("task-1"))
    plan = deadletter_replay(deadletter_id=letter.id, actor=None)
    deadletter_discard(deadletter_id=letter.id, actor=None, reason="fixed by hand, or so we thought")

    again = deadletter_record(record=_record(plan.task_id, replay_of=letter.id))

    assert again.id != letter.id
    assert again.replay_of_id == letter.id
    assert again.actions.get().detail == {"reason": "permanent", "replay_of": letter.id}


def test_a_failed_replay_of_a_pruned_letter_files_a_letter_naming_none():
    letter = deadletter_record(record=_record("task-1", replay_of=424242))

    assert letter.replay_of_id is None
