from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from apps.core.tasks import DeadLetterReason
from apps.deadletters.models import DeadLetter, DeadLetterAction
from apps.deadletters.selectors import DeadLetterFilter, deadletter_groups_by_exception
from apps.deadletters.services import (
    DeadLetterError,
    DeadLetterRecord,
    deadletter_discard,
    deadletter_dry_run,
    deadletter_prune,
    deadletter_record,
    deadletter_replay,
    deadletter_replay_matching,
)
from apps.purchases.models import StudentCoursePurchase
from tests.deadletters.factories import DeadLetterFactory
from tests.factories import PurchaseFactory, StaffUserFactory

pytestmark = pytest.mark.django_db


def _record(task_id: str = "task-1") -> DeadLetterRecord:
    return DeadLetterRecord(
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


def test_recording_the_same_task_twice_keeps_one_letter_and_counts_the_failures():
    deadletter_record(record=_record())
    letter = deadletter_record(record=_record())

    assert DeadLetter.objects.count() == 1
    assert letter.failures == 2
    assert list(letter.actions.values_list("kind", flat=True)) == ["recorded"]


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
