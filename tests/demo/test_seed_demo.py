from __future__ import annotations

import datetime
import os

import pytest
from django.db import connection
from django.db.models import Count, F, Q

from apps.allocations.models import TrainerAllocation
from apps.demo.services import DemoScale, demo_platform_seed
from apps.directory.models import Course, Student, Trainer
from apps.outbox.models import OutboxMessage
from apps.payments.models import Payment
from apps.payments.services import payment_reconcile_stuck
from apps.pipeline.services import pipeline_resume_stalled
from apps.purchases.models import StudentCoursePurchase
from apps.tutoring.models import TutoringSession
from apps.workers.models import DeadLetter
from tests.support.processes import run_manage

pytestmark = pytest.mark.django_db

SCALE = DemoScale.for_payments(400)


def _foreign_keys() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_constraint WHERE contype = 'f'")
        return cursor.fetchone()[0]


def test_every_row_the_seed_makes_is_marked_as_demo():
    demo_platform_seed(scale=SCALE)

    models = (Course, Student, Trainer, Payment, StudentCoursePurchase, TrainerAllocation, TutoringSession)
    assert [model.__name__ for model in models if model.objects.filter(is_demo=False).exists()] == []


def test_the_demo_has_payments_in_every_final_status_and_none_in_flight():
    demo_platform_seed(scale=SCALE)

    assert set(Payment.objects.values_list("status", flat=True)) == {"succeeded", "refunded", "failed", "expired"}


def test_after_seeding_one_reconciliation_pass_enqueues_nothing_and_files_no_dead_letters():
    demo_platform_seed(scale=SCALE)

    summary = payment_reconcile_stuck(older_than=datetime.timedelta(0))

    assert summary.examined == 0
    assert not OutboxMessage.objects.exists()
    assert not DeadLetter.objects.exists()


def test_after_seeding_the_pipeline_resume_job_finds_no_stalled_step():
    demo_platform_seed(scale=SCALE)

    summary = pipeline_resume_stalled(older_than=datetime.timedelta(0))

    assert (summary.purchases, summary.allocations, summary.schedules, summary.skipped) == (0, 0, 0, 0)
    assert not OutboxMessage.objects.exists()


def test_every_settled_payment_has_exactly_one_purchase():
    demo_platform_seed(scale=SCALE)

    settled = Payment.objects.filter(status__in=["succeeded", "refunded"])
    assert not settled.annotate(n=Count("purchases")).exclude(n=1).exists()
    assert not StudentCoursePurchase.objects.exclude(payment__status__in=["succeeded", "refunded"]).exists()


def test_allocations_name_a_trainer_who_teaches_the_course_unless_pending():
    demo_platform_seed(scale=SCALE)

    pending = TrainerAllocation.objects.filter(status="pending")
    assigned = TrainerAllocation.objects.exclude(status="pending")
    assert pending.exists() and not pending.exclude(trainer=None).exists()
    assert not assigned.filter(trainer=None).exists()
    assert not assigned.exclude(trainer__courses=F("course")).exists()


def test_sessions_belong_to_allocations_that_went_ahead_with_the_same_people():
    demo_platform_seed(scale=SCALE)

    sessions = TutoringSession.objects.all()
    assert sessions.exists()
    assert not sessions.exclude(allocation__status__in=["active", "completed"]).exists()
    assert not sessions.exclude(trainer=F("allocation__trainer")).exists()
    assert not sessions.exclude(student=F("allocation__student")).exists()


def test_re_running_inserts_nothing_and_fails_nothing():
    demo_platform_seed(scale=SCALE)

    again = demo_platform_seed(scale=SCALE)

    assert again == dict.fromkeys(again, 0)


def test_a_larger_scale_extends_a_smaller_one():
    demo_platform_seed(scale=SCALE)

    demo_platform_seed(scale=DemoScale.for_payments(800))

    assert Payment.objects.count() == 800


def test_the_foreign_keys_are_back_after_seeding():
    before = _foreign_keys()

    demo_platform_seed(scale=SCALE)

    assert _foreign_keys() == before


@pytest.mark.slow
@pytest.mark.parametrize("bad", [["--payments", "0"], ["--payments", "many"], ["--students", "-3"], ["--colour"]])
def test_bad_arguments_print_usage_and_exit_non_zero(bad):
    result = run_manage("seed_demo", *bad)

    assert result.returncode == 2
    assert "usage: manage.py seed_demo" in result.stderr


@pytest.mark.slow
def test_help_works_without_the_environment_set():
    bare = {name: os.environ[name] for name in ("PATH", "HOME") if name in os.environ}

    result = run_manage("seed_demo", "--help", env=bare)

    assert result.returncode == 0, result.stderr
    assert "--payments" in result.stdout


def test_with_too_few_trainers_the_seed_fills_them_to_capacity_and_leaves_the_rest_pending():
    demo_platform_seed(scale=DemoScale.for_payments(2_000, trainers=8))

    loads = list(Trainer.objects.annotate(load=Count("allocations", filter=Q(allocations__status="active"))))
    assert not [(t.id, t.load, t.capacity) for t in loads if t.load > t.capacity]
    assert any(t.load == t.capacity for t in loads)
    assert TrainerAllocation.objects.filter(status="pending", trainer=None).exists()
