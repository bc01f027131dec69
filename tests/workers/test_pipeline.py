"""The purchase pipeline on a real worker process, a real broker (Redis or RabbitMQ) and real PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime
import json
import time

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from apps.allocations.models import TrainerAllocation
from apps.directory.models import Student
from apps.payments.models import Payment
from apps.payments.services import payment_settle
from apps.pipeline.services import pipeline_resume_stalled
from apps.purchases.models import StudentCoursePurchase
from apps.realtime.services import ops_group_for
from apps.tutoring.models import TutoringSession
from apps.workers.models import DeadLetter
from apps.workers.services import deadletter_replay
from lib.context import reset_correlation_id, set_correlation_id
from ops_console.celery import app
from tests.factories import CourseFactory, PaymentFactory, StaffUserFactory, StudentFactory, TrainerFactory
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _course_with_trainers(*, trainers: int = 1, capacity: int = 10, sessions: int = 4):
    course = CourseFactory(sessions_per_purchase=sessions)
    for _ in range(trainers):
        TrainerFactory(capacity=capacity).courses.add(course)
    return course


def _pay(course, student=None) -> Payment:
    """A payment the provider just confirmed: settling it starts the pipeline on commit."""
    payment = PaymentFactory(course=course, student=student or StudentFactory(), status=Payment.Status.PENDING)
    return payment_settle(payment_id=payment.id, status=Payment.Status.SUCCEEDED)


def _sessions_of(payment: Payment) -> int:
    return TutoringSession.objects.filter(allocation__purchase__payment=payment).count()


def test_a_succeeded_payment_ends_in_scheduled_sessions_and_a_published_event(start_worker, isolated_channel_layer):
    course = _course_with_trainers(sessions=4)
    start_worker()

    async def pay_and_listen() -> tuple[Payment, dict]:
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(ops_group_for("allocation.scheduled"), channel)
        payment = await sync_to_async(_pay)(course)
        async with asyncio.timeout(40):
            while True:
                event = json.loads((await layer.receive(channel))["text"])
                if event["type"] == "allocation.scheduled" and event["data"].get("payment_id") == payment.id:
                    return payment, event

    payment, event = asyncio.run(pay_and_listen())

    allocation = TrainerAllocation.objects.get(purchase__payment=payment)
    assert allocation.status == TrainerAllocation.Status.ACTIVE
    assert _sessions_of(payment) == 4
    assert event["type"] == "allocation.scheduled"
    assert event["data"]["allocation_id"] == allocation.id
    assert len(event["data"]["sessions"]) == 4


def test_no_trainer_with_capacity_is_retried_with_backoff_until_one_is_free(start_worker):
    course = _course_with_trainers(trainers=0)
    worker = start_worker(ALLOCATION_MAX_ATTEMPTS="10")

    payment = _pay(course)
    wait_until(lambda: '"task_retry_scheduled"' in worker.log(), timeout=30, what="a retry")
    TrainerFactory(capacity=1).courses.add(course)

    wait_until(lambda: _sessions_of(payment) == 4, timeout=30, what="sessions")
    assert not DeadLetter.objects.exists()


def test_a_permanent_failure_is_dead_lettered_once_with_traceback_and_correlation_id(start_worker):
    course = _course_with_trainers()
    student = StudentFactory(status=Student.Status.PAUSED)
    start_worker()

    token = set_correlation_id("trace-permanent-failure")
    try:
        payment = _pay(course, student)
    finally:
        reset_correlation_id(token)
    wait_until(DeadLetter.objects.exists, timeout=30, what="a dead letter")
    time.sleep(1)  # nothing else should arrive

    letter = DeadLetter.objects.get()
    assert letter.task_name == "purchases.create_from_payment"
    assert letter.args == [payment.id]
    assert letter.exception_class == "apps.purchases.services.PurchaseNotAllowed"
    assert "PurchaseNotAllowed" in letter.traceback
    assert letter.correlation_id == "trace-permanent-failure"
    assert (letter.reason, letter.attempts) == ("permanent", 1)


def test_fixing_the_cause_and_replaying_completes_the_pipeline_and_resolves_the_letter(start_worker):
    course = _course_with_trainers()
    student = StudentFactory(status=Student.Status.PAUSED)
    start_worker()
    payment = _pay(course, student)
    wait_until(DeadLetter.objects.exists, timeout=30, what="a dead letter")

    Student.objects.filter(id=student.id).update(status=Student.Status.ACTIVE)
    letter = DeadLetter.objects.get()
    plan = deadletter_replay(deadletter_id=letter.id, actor=StaffUserFactory())

    assert plan.will_enqueue
    wait_until(lambda: _sessions_of(payment) == 4, timeout=30, what="sessions")
    wait_until(lambda: DeadLetter.objects.get().status == DeadLetter.Status.RESOLVED, timeout=10, what="resolved")
    assert list(DeadLetter.objects.get().actions.values_list("kind", flat=True).order_by("id")) == [
        "recorded",
        "replayed",
        "resolved",
    ]


def test_the_resume_job_does_not_file_a_dead_letter_every_run_for_a_payment_that_failed_for_good(start_worker):
    course = _course_with_trainers()
    start_worker()
    payment = _pay(course, StudentFactory(status=Student.Status.PAUSED))
    wait_until(DeadLetter.objects.exists, timeout=30, what="a dead letter")

    summaries = [pipeline_resume_stalled(older_than=datetime.timedelta(0)) for _ in range(3)]  # three beat runs
    time.sleep(3)  # a step enqueued again would fail and be recorded within this

    letter = DeadLetter.objects.get()
    assert (letter.args, letter.failures, letter.status) == ([payment.id], 1, DeadLetter.Status.NEW)
    assert [(s.purchases, s.skipped) for s in summaries] == [(0, 1)] * 3


def test_running_an_applied_step_again_changes_nothing(start_worker):
    course = _course_with_trainers()
    start_worker()
    payment = _pay(course)
    wait_until(lambda: _sessions_of(payment) == 4, timeout=30, what="sessions")
    purchase = StudentCoursePurchase.objects.get(payment=payment)

    app.send_task("purchases.create_from_payment", args=[payment.id])
    app.send_task("allocations.assign_trainer", args=[purchase.id])
    time.sleep(3)

    assert StudentCoursePurchase.objects.filter(payment=payment).count() == 1
    assert TrainerAllocation.objects.filter(purchase=purchase).count() == 1
    assert _sessions_of(payment) == 4
    assert not DeadLetter.objects.exists()


@pytest.mark.parametrize(
    "args",
    [pytest.param([], id="missing-id"), pytest.param(["seven"], id="wrong-type"), pytest.param([10**9], id="unknown")],
)
def test_malformed_arguments_are_dead_lettered_at_once_and_the_worker_keeps_going(start_worker, args):
    course = _course_with_trainers()
    worker = start_worker()

    app.send_task("purchases.create_from_payment", args=args)
    payment = _pay(course)

    wait_until(lambda: _sessions_of(payment) == 4, timeout=30, what="the next pipeline")
    wait_until(DeadLetter.objects.exists, timeout=10, what="a dead letter")
    letter = DeadLetter.objects.get()
    assert (letter.reason, letter.attempts, letter.args) == ("validation", 1, args)
    assert worker.alive()
