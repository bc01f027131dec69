"""The worker controls against a real Celery worker: its heartbeat, its answers, its queues."""

from __future__ import annotations

import pytest

from apps.console import workers
from apps.console.models import OperatorAction
from tests.factories import StaffUserFactory
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def worker(start_worker, settings):
    settings.CONSOLE_CONTROL_TIMEOUT = 3.0
    process = start_worker(TELEMETRY_INTERVAL="0.5", TELEMETRY_KEY_PREFIX=settings.TELEMETRY_KEY_PREFIX)
    wait_until(lambda: _live(), timeout=30, what="the worker's heartbeat")
    return process


def _live() -> list[dict[str, object]]:
    return [w for w in workers.workers_reading_build()["workers"] if w["state"] == "alive" and w["nodename"]]


def test_a_live_worker_reports_its_queues_and_concurrency(worker, settings):
    row = _live()[0]

    assert row["queues"] == sorted(settings.WORKER_QUEUES) and row["concurrency"] == 2


def test_pausing_a_queue_stops_every_worker_consuming_it_until_resumed(worker):
    operator = StaffUserFactory()
    nodename = _live()[0]["nodename"]

    paused = workers.queue_pause(actor=operator, queue="cache")
    wait_until(lambda: "cache" not in _live()[0]["queues"], timeout=10, what="the worker to stop consuming cache")
    resumed = workers.queue_resume(actor=operator, queue="cache")
    wait_until(lambda: "cache" in _live()[0]["queues"], timeout=10, what="the worker to consume cache again")

    assert [a["worker"] for a in paused["answered"]] == [nodename]
    assert resumed["destination"] == [nodename] and [a["worker"] for a in resumed["answered"]] == [nodename]
    assert list(OperatorAction.objects.order_by("id").values_list("action", "outcome")) == [
        ("workers.pause_queue", "succeeded"),
        ("workers.resume_queue", "succeeded"),
    ]


def test_revoking_a_task_is_acknowledged_by_the_worker(worker):
    result = workers.task_revoke(actor=StaffUserFactory(), task_id="3f2a-revoke-me")

    assert result["answered"] == [
        {"worker": _live()[0]["nodename"], "reply": "tasks {'3f2a-revoke-me'} flagged as revoked"}
    ]


def test_stopping_one_worker_ends_its_process_after_it_answers(worker):
    nodename = _live()[0]["nodename"]

    result = workers.worker_shutdown(actor=StaffUserFactory(), nodename=nodename)
    wait_until(lambda: not worker.alive(), timeout=20, what="the worker to stop")

    assert result["outcome"] == "succeeded" and result["answered"][0]["worker"] == nodename


def test_a_killed_worker_is_shown_lost(worker):
    worker.kill()

    wait_until(lambda: any(w["state"] == "lost" for w in workers.workers_reading_build()["workers"]), timeout=10,
               what="the worker to be marked lost")  # fmt: skip
