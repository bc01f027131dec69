"""The timeline on a real prefork worker, whose pool Celery's Django fixup closes now and then (CELERY_DB_REUSE_MAX)."""

from __future__ import annotations

import pytest

from apps.payments.models import Payment
from apps.payments.services import payment_settle
from apps.timeline.models import TimelineEvent
from tests.factories import CourseFactory, PaymentFactory, StudentFactory, TrainerFactory
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

PIPELINES = 40


def _paid_pipelines(count: int) -> list[int]:
    course = CourseFactory(sessions_per_purchase=1)
    TrainerFactory(capacity=count).courses.add(course)
    ids = []
    for _ in range(count):
        payment = PaymentFactory(course=course, student=StudentFactory(), status=Payment.Status.PENDING)
        ids.append(payment_settle(payment_id=payment.id, status=Payment.Status.SUCCEEDED).id)
    return ids


def _purchases_succeeded(ids: list[int]) -> int:
    subjects = [f"payment:{payment_id}" for payment_id in ids]
    events = TimelineEvent.objects.filter(subject__in=subjects, kind="task", name="succeeded")
    return events.order_by().values("subject").distinct().count()


def test_a_worker_writes_every_task_event_while_its_pool_is_closed_around_every_task(start_worker):
    # A write interval far shorter than a task keeps the writer thread busy while tasks end, and the
    # fixup closes the pool around every task: a write that meets the closed pool is kept and written
    # on the next pass, on the pool the next task opened.
    worker = start_worker(TIMELINE_FLUSH_INTERVAL="0.005", DB_POOL_MIN_SIZE="2", CELERY_DB_REUSE_MAX="1")

    ids = _paid_pipelines(PIPELINES)
    wait_until(lambda: _purchases_succeeded(ids) >= PIPELINES, timeout=60, what="every purchase task's event")
    worker.stop()

    assert _purchases_succeeded(ids) == PIPELINES
    assert "batch_writer_failed" not in worker.log()
