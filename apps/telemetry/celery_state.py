"""What a Celery worker's main process and beat know about themselves, for their snapshots.

The worker's consumer (kept at worker_ready) knows its node name, the queues it consumes
now (cancel_consumer / add_consumer change them) and its concurrency; the main process
tracks the requests its pool children run (celery.worker.state.active_requests). Beat's
service (kept at beat_init) holds the schedule with each entry's last run. Memory only.
"""

from __future__ import annotations

import datetime
import os
from typing import Any

# (pid that kept it, object): a forked pool child inherits the parent's globals and must not report them.
_consumer: tuple[int, Any] | None = None
_beat: tuple[int, Any] | None = None
ACTIVE_LIMIT = 50


def consumer_keep(consumer: Any) -> None:
    global _consumer
    _consumer = (os.getpid(), consumer)


def beat_keep(service: Any) -> None:
    global _beat
    _beat = (os.getpid(), service)


def _here(kept: tuple[int, Any] | None) -> Any:
    return kept[1] if kept is not None and kept[0] == os.getpid() else None


def worker_state() -> dict[str, Any] | None:
    """Node name, queues consumed, concurrency and running tasks of this worker's main process, else None."""
    consumer = _here(_consumer)
    if consumer is None:
        return None
    from celery.worker import state

    task_consumer = getattr(consumer, "task_consumer", None)
    queues = sorted(q.name for q in task_consumer.queues) if task_consumer is not None else []
    pool = getattr(consumer, "pool", None)
    active = sorted(list(state.active_requests), key=lambda r: r.time_start or 0)[:ACTIVE_LIMIT]
    return {
        "nodename": consumer.hostname,
        "queues": queues,
        "concurrency": getattr(pool, "num_processes", None) or getattr(consumer.controller, "concurrency", None),
        "reserved": len(state.reserved_requests),
        "active": [{"id": r.id, "name": r.name, "started_at": r.time_start, "child_pid": r.worker_pid} for r in active],
    }


def beat_state() -> dict[str, Any] | None:
    """Each schedule entry of this beat: task, period, last run and next run (Unix seconds), else None."""
    service = _here(_beat)
    if service is None:
        return None
    entries = []
    for name, entry in sorted(service.scheduler.schedule.items()):
        last = entry.last_run_at
        remaining = entry.schedule.remaining_estimate(last) if last is not None else None
        now = datetime.datetime.now(datetime.UTC).timestamp()
        entries.append(
            {
                "name": name,
                "task": entry.task,
                "period_s": _period(entry.schedule),
                "last_run_at": _timestamp(last),
                "next_run_at": None if remaining is None else round(now + remaining.total_seconds(), 3),
                "runs": entry.total_run_count,
            }
        )
    return {"entries": entries}


def _period(schedule: Any) -> float | None:
    run_every = getattr(schedule, "run_every", None)
    return run_every.total_seconds() if isinstance(run_every, datetime.timedelta) else None


def _timestamp(moment: datetime.datetime | None) -> float | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return round(moment.timestamp(), 3)
