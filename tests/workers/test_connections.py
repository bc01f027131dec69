"""A worker's pool processes keep their database pool across tasks (apps/workers/connections.py)."""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from celery import signals
from django.db import connection, transaction

from apps.payments.models import Payment
from apps.payments.services import payment_settle
from apps.tutoring.models import TutoringSession
from apps.workers.connections import task_connection_release, worker_connections_init
from ops_console.celery import app
from tests.factories import CourseFactory, PaymentFactory, StudentFactory, TrainerFactory
from tests.support.waiting import wait_until


def _task(*, eager: bool) -> SimpleNamespace:
    return SimpleNamespace(request=SimpleNamespace(is_eager=eager))


@pytest.fixture
def started_worker() -> Iterator[None]:
    worker_connections_init()
    yield
    signals.task_postrun.disconnect(dispatch_uid="workers_connection_release")


def _postrun_receivers() -> list[str]:
    receivers = (ref() if isinstance(ref, weakref.ReferenceType) else ref for _, ref in signals.task_postrun.receivers)
    return [f"{receiver.__module__}.{receiver.__qualname__}" for receiver in receivers if receiver is not None]


def test_a_started_worker_releases_the_connection_after_the_timeline_has_written_on_it(started_worker):
    receivers = _postrun_receivers()

    assert receivers.index("apps.workers.connections.task_connection_release") > receivers.index(
        "apps.timeline.hooks.task_finished"
    )


@pytest.mark.django_db(transaction=True)
def test_after_a_task_its_connection_goes_back_to_the_pool():
    connection.ensure_connection()

    task_connection_release(task=_task(eager=False))

    assert connection.connection is None


@pytest.mark.django_db(transaction=True)
def test_a_connection_inside_a_transaction_stays_with_its_caller():
    with transaction.atomic():
        connection.ensure_connection()

        task_connection_release(task=_task(eager=False))

        assert connection.connection is not None


@pytest.mark.django_db(transaction=True)
def test_an_eager_call_keeps_its_callers_connection():
    connection.ensure_connection()

    task_connection_release(task=_task(eager=True))

    assert connection.connection is not None


def _worker_sessions() -> dict[int, object]:
    """The worker's PostgreSQL sessions: backend pid -> when it started."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, backend_start FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name = 'ops-console:worker'"
        )
        return dict(cursor.fetchall())


def _run_pipelines(count: int) -> None:
    course = CourseFactory(sessions_per_purchase=1)
    TrainerFactory(capacity=count).courses.add(course)
    for _ in range(count):
        payment = PaymentFactory(course=course, student=StudentFactory(), status=Payment.Status.PENDING)
        payment_settle(payment_id=payment.id, status=Payment.Status.SUCCEEDED)
    sessions = TutoringSession.objects.filter(course=course)
    wait_until(lambda: sessions.count() == count, timeout=60, what=f"{count} pipelines to schedule their sessions")


def _worker_idle() -> bool:
    """No task running or reserved (the notify steps run after the sessions are written)."""
    inspect = app.control.inspect(timeout=1.0)
    running = [*((inspect.active() or {}).values()), *((inspect.reserved() or {}).values())]
    return bool(running) and not any(running)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_pool_processes_run_later_tasks_on_the_sessions_they_opened_first(start_worker):
    start_worker(DB_POOL_MIN_SIZE="1")
    _run_pipelines(5)
    first = _worker_sessions()

    _run_pipelines(10)
    later = _worker_sessions()

    assert first, "the pool processes keep their sessions between tasks"
    assert later.items() <= first.items()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_pool_whose_sessions_were_terminated_hands_tasks_fresh_ones_without_a_failed_attempt(start_worker):
    worker = start_worker(DB_POOL_MIN_SIZE="1", DB_POOL_CHECK_IDLE="0.1")
    _run_pipelines(3)
    wait_until(_worker_idle, timeout=30, what="the worker to finish every task")
    time.sleep(1.5)  # idle beyond DB_POOL_CHECK_IDLE since the writer threads' last flush (every 1 s)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name = 'ops-console:worker'"
        )
        assert cursor.fetchone()[0] > 0

    _run_pipelines(5)
    worker.stop()

    assert "task_retry_scheduled" not in worker.log()
    assert "task_dead_lettered" not in worker.log()
