"""Celery signal handlers: task counts and runtimes, and starting the reporter in workers and beat.

With the prefork pool, task signals fire in the pool child that runs the task,
so each child counts its own tasks and reports its own snapshot
(worker_process_init); the main process reports too (worker_ready), with the
same `group`. A task's runtime is measured from task_prerun to task_postrun.
A task ReliableTask dead-lettered ends in SUCCESS for Celery; it counts as failed here.
Also stamps every published task with `enqueued_at`, which the console reads
from the oldest message of each queue to tell its age.
"""

from __future__ import annotations

import os
import time
from typing import Any

from lib import metrics

ENQUEUED_AT_HEADER = "x_enqueued_at"
# task id -> (perf_counter at prerun, the task's dead letters so far in this process)
_started: dict[str, tuple[float, int]] = {}


def _dead_lettered(name: str) -> int:
    return sum(n for labels, n in metrics.counter_items("task_dead_lettered") if dict(labels).get("task") == name)


def task_started(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    if task_id:
        _started[task_id] = (time.perf_counter(), _dead_lettered(getattr(task, "name", "")))


def task_finished(task_id: str | None = None, task: Any = None, state: str | None = None, **_: Any) -> None:
    name = getattr(task, "name", None) or "unknown"
    started, dead_before = _started.pop(task_id or "", (None, None))
    if state == "SUCCESS" and dead_before is not None and _dead_lettered(name) > dead_before:
        state = "FAILURE"
    if state == "SUCCESS":
        metrics.increment("tasks_succeeded", task=name)
    elif state == "FAILURE":
        metrics.increment("tasks_failed", task=name)
    if started is not None:
        metrics.observe_histogram("task_runtime_ms", (time.perf_counter() - started) * 1000, task=name)


def task_retried(request: Any = None, sender: Any = None, **_: Any) -> None:
    metrics.increment("tasks_retried", task=getattr(sender, "name", None) or "unknown")


def task_stamp_enqueued_at(headers: dict[str, Any] | None = None, routing_key: str | None = None, **_: Any) -> None:
    if headers is not None:
        headers.setdefault(ENQUEUED_AT_HEADER, time.time())
    metrics.increment("tasks_published", queue=routing_key or "unknown")


def worker_main_ready(sender: Any = None, **_: Any) -> None:
    from apps.telemetry import celery_state
    from apps.telemetry.reporter import reporter_start

    if sender is not None:
        celery_state.consumer_keep(sender)
    reporter_start(kind="worker")


def worker_child_started(**_: Any) -> None:
    from apps.telemetry.reporter import reporter_start

    _started.clear()
    reporter_start(kind="worker", group_pid=os.getppid())


def process_stopping(**_: Any) -> None:
    from apps.telemetry.reporter import reporter_stop

    reporter_stop()


def beat_started(sender: Any = None, **_: Any) -> None:
    from apps.telemetry import celery_state
    from apps.telemetry.reporter import reporter_start

    if sender is not None:
        celery_state.beat_keep(sender)
    reporter_start(kind="beat")
