"""A correlation id set while enqueueing reaches a real worker's log lines."""

from __future__ import annotations

import json
import random
import sys

import pytest

from apps.payments.tasks import payments_invalidate_student_cache
from lib.context import reset_correlation_id, set_correlation_id
from tests.support.processes import child_env, launch
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_the_correlation_id_travels_in_task_headers_and_is_rebound_in_the_worker(tmp_path):
    worker = launch(
        [sys.executable, "-m", "celery", "-A", "ops_console", "worker", "-Q", "cache", "--pool", "solo",
         "--without-heartbeat", "--without-gossip", "--without-mingle", "--loglevel", "INFO"],
        log_path=tmp_path / "worker.log",
        env=child_env(OPS_PROCESS_KIND="worker", LOG_FORMAT="json"),
    )  # fmt: skip
    student_id = random.randint(10**6, 10**9)  # other tests leave their own tasks on the queue
    token = set_correlation_id("trace-into-worker")
    try:
        payments_invalidate_student_cache.delay(student_id)
    finally:
        reset_correlation_id(token)
    try:
        wait_until(lambda: _invalidated(worker.log(), student_id), timeout=30, what="the worker to run the task")
    finally:
        worker.stop(timeout=15)
    event = _invalidated(worker.log(), student_id)

    assert event["correlation_id"] == "trace-into-worker"
    assert event["process"] == "worker"


def _invalidated(log: str, student_id: int) -> dict | None:
    """The worker's `student_payment_cache_invalidated` event for this student, if it has logged it."""
    for line in log.splitlines():
        if line.startswith("{") and "student_payment_cache_invalidated" in line:
            event = json.loads(line)
            if event["student_id"] == student_id:
                return event
    return None
