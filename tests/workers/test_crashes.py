"""Workers that die: SIGKILL mid-batch loses and duplicates nothing; a poison message is dead-lettered."""

from __future__ import annotations

import time
import uuid

import pytest
import redis
from django.conf import settings

from apps.allocations.models import TrainerAllocation
from apps.outbox.models import OutboxMessage
from apps.payments.models import Payment
from apps.pipeline.services import pipeline_start_for_payment
from apps.purchases.models import StudentCoursePurchase
from apps.tutoring.models import TutoringSession
from apps.workers.models import DeadLetter
from lib.broker import redis_restore_mutex_expire
from ops_console.celery import app
from tests.factories import CourseFactory, PaymentFactory, StudentFactory, TrainerFactory
from tests.support.pipelines import (
    assert_every_pipeline_ran_once,
    course_for_pipelines,
    pipelines_complete,
    wait_for_every_pipeline_resuming_once_on_redis,
)
from tests.support.waiting import wait_until
from tests.support.workers import REDIS_BROKER_ENV

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

RUNS = 200
SESSIONS = 2


def _complete() -> int:
    return pipelines_complete(sessions=SESSIONS)


def test_killing_the_worker_during_200_pipelines_loses_and_duplicates_nothing(start_worker):
    course = course_for_pipelines(runs=RUNS, sessions=SESSIONS)
    payments = [PaymentFactory(course=course, student=StudentFactory()) for _ in range(RUNS)]
    # Redeliveries after a kill are expected; none of these tasks is poison.
    worker = start_worker(TASK_MAX_DELIVERIES="20")
    for payment in payments:
        pipeline_start_for_payment(payment_id=payment.id)

    kills = 0
    started = time.monotonic()
    for threshold in (RUNS // 5, RUNS // 2, RUNS * 4 // 5):
        wait_until(lambda t=threshold: _complete() >= t, timeout=60, interval=0.05, what=f"{threshold} pipelines")
        worker.kill()
        kills += 1
        worker = start_worker(TASK_MAX_DELIVERIES="20")
    resumed = wait_for_every_pipeline_resuming_once_on_redis(
        runs=RUNS, sessions=SESSIONS, timeout=60, where=_where_pipelines_stand
    )
    elapsed = time.monotonic() - started

    assert kills == 3
    assert resumed <= kills  # each kill loses at most the one message it caught between BRPOP and unacked
    assert_every_pipeline_ran_once(payments, sessions=SESSIONS)
    print(f"{RUNS} pipelines with {kills} worker kills in {elapsed:.1f}s; steps the resume job handed on: {resumed}")


def test_a_poison_message_is_dead_lettered_after_max_deliveries_while_other_work_flows(start_worker):
    course = CourseFactory(sessions_per_purchase=SESSIONS)
    TrainerFactory().courses.add(course)
    start_worker(TASK_MAX_DELIVERIES="3")

    app.send_task("tests.kill_my_worker", args=["poison"])
    payment = PaymentFactory(course=course, status=Payment.Status.SUCCEEDED)
    pipeline_start_for_payment(payment_id=payment.id)

    wait_until(DeadLetter.objects.exists, timeout=60, what="the poison message's dead letter")
    wait_until(
        lambda: TutoringSession.objects.filter(allocation__purchase__payment=payment).count() == SESSIONS,
        timeout=30,
        what="the other pipeline",
    )
    letter = DeadLetter.objects.get()
    assert (letter.task_name, letter.reason, letter.deliveries) == ("tests.kill_my_worker", "poison", 4)
    assert letter.exception_class == "apps.workers.retry.PoisonMessage"


def _where_pipelines_stand() -> str:
    """What a stalled run leaves: how far the pipelines got, and what the broker still holds."""
    broker = redis.Redis.from_url(settings.REDIS_URL)
    prefix = app.conf.broker_transport_options.get("global_keyprefix", "")
    return (
        f"purchases {StudentCoursePurchase.objects.count()}, allocations {TrainerAllocation.objects.count()}, "
        f"complete {_complete()}, outbox rows {OutboxMessage.objects.count()}, "
        f"dead letters {list(DeadLetter.objects.values_list('task_name', 'reason'))}, "
        f"unacked {broker.hlen(f'{prefix}unacked')}, restore lock ttl {broker.pttl(f'{prefix}unacked_mutex')} ms"
    )


def _restore_lock_expiry_of_the_running_worker() -> int:
    """What the worker itself would leave behind: its transport's unacked_mutex_expire (kombu's default 300 s)."""
    answers = app.control.inspect(timeout=5).conf() or {}
    assert answers, "no worker answered `inspect conf`"
    options = next(iter(answers.values())).get("CELERY_BROKER_TRANSPORT_OPTIONS") or {}
    return int(options.get("unacked_mutex_expire", 300))


@pytest.mark.skipif(settings.CELERY_BROKER_KIND != "redis", reason="Redis broker only: kombu's restore lock")
def test_a_restore_lock_left_by_a_killed_worker_delays_its_messages_only_briefly(start_worker):
    # A worker SIGKILLed while it restored unacked messages leaves kombu's lock held; until the lock
    # expires no worker restores the messages of dead workers (kombu's default: 5 minutes).
    runs = 40
    visibility = int(REDIS_BROKER_ENV["CELERY_VISIBILITY_TIMEOUT"])
    course = course_for_pipelines(runs=runs, sessions=SESSIONS)
    payments = [PaymentFactory(course=course, student=StudentFactory()) for _ in range(runs)]
    worker = start_worker(TASK_MAX_DELIVERIES="20")
    for payment in payments:
        pipeline_start_for_payment(payment_id=payment.id)
    broker = redis.Redis.from_url(settings.REDIS_URL)  # the broker is this Redis (tests never name another)
    prefix = app.conf.broker_transport_options["global_keyprefix"]  # this test's (isolated_broker)
    wait_until(lambda: broker.hlen(f"{prefix}unacked") > 0, timeout=30, interval=0.01, what="work in hand")

    expire = _restore_lock_expiry_of_the_running_worker()
    assert expire == redis_restore_mutex_expire(visibility)
    broker.set(f"{prefix}unacked_mutex", uuid.uuid4().hex, nx=True, px=expire * 1000)
    worker.kill()
    start_worker(TASK_MAX_DELIVERIES="20")

    wait_until(lambda: _complete() == runs, timeout=visibility + expire + 30, interval=0.2, what="every pipeline")
    assert_every_pipeline_ran_once(payments, sessions=SESSIONS)
