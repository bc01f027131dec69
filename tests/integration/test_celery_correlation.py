"""A correlation id set while enqueueing reaches a real worker's log lines."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time

import pytest

from apps.core.context import reset_correlation_id, set_correlation_id
from apps.payments.tasks import payments_invalidate_student_cache
from tests.servers import ROOT, child_env

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_correlation_id_travels_in_task_headers_and_is_rebound_in_the_worker():
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "ops_console", "worker", "-Q", "cache", "--pool", "solo",
         "--without-heartbeat", "--without-gossip", "--without-mingle", "--loglevel", "INFO"],
        cwd=ROOT,
        env=child_env(OPS_PROCESS_KIND="worker", LOG_FORMAT="json"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    student_id = random.randint(10**6, 10**9)  # other tests leave their own tasks on the queue
    token = set_correlation_id("trace-into-worker")
    try:
        payments_invalidate_student_cache.delay(student_id)
    finally:
        reset_correlation_id(token)
    event = None
    deadline = time.monotonic() + 30
    try:
        while event is None and time.monotonic() < deadline:
            line = worker.stdout.readline()
            if line.startswith("{") and "student_payment_cache_invalidated" in line:
                candidate = json.loads(line)
                event = candidate if candidate["student_id"] == student_id else None
    finally:
        worker.terminate()
        worker.wait(timeout=15)

    assert event is not None, "the worker never ran the task"
    assert event["correlation_id"] == "trace-into-worker"
    assert event["process"] == "worker"
