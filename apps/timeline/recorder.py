"""Recording timeline events: in the caller's transaction, or off the hot path in batches.

- `timeline_record_now` INSERTs one row on the caller's connection. Payment state
  changes use it inside the transaction that changes the status: that is a
  database write anyway, and the row commits (or rolls back) with the change.
- `timeline_record` appends to this process's buffer (a deque, microseconds).
  In a web process (or any non-worker) one daemon thread writes the buffer
  with one bulk INSERT every TIMELINE_FLUSH_INTERVAL, under TIMELINE_SQL_TIMEOUT.
  In a Celery worker no thread runs: the buffer is written after each task, on
  the task's own thread and connection (`timeline_flush_after_task`). Why:
  Celery's Django fixup closes the process's psycopg pool in a prefork child
  (`close_pool`, once every CELERY_DB_REUSE_MAX tasks: apps/workers/connections.py),
  so a thread borrowing from that pool meanwhile would fail with "the pool
  'ops-console-worker' is closed"; a worker's events are all recorded inside
  tasks anyway. The buffer holds at
  most TIMELINE_BUFFER_MAX events: past that, events are dropped and counted
  (`timeline_dropped`), never waited for. A process that crashes loses at most
  one interval (one task) of buffered events; a clean stop (worker shutdown,
  interpreter exit) flushes first. TIMELINE_FLUSH_INTERVAL = 0 starts no
  thread: events wait for an explicit `timeline_flush()` (the in-process
  tests, whose rows roll back with the test).

Subjects name what an event is about: "payment:<id>", "purchase:<id>",
"allocation:<id>"; a payment's timeline is its own subject and those of the
purchase and allocations it caused (apps.timeline.selectors).
"""

from __future__ import annotations

import atexit
import os
import threading
from collections import deque
from typing import Any

import structlog
from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from apps.timeline.models import TimelineEvent
from lib import metrics
from lib.context import get_correlation_id
from lib.db import statement_timeout

logger = structlog.get_logger(__name__)

# The pipeline's tasks (apps/pipeline/steps.py; tests/timeline pins the names) -> the kind of id their one argument is.
TASK_SUBJECTS: dict[str, str] = {
    "purchases.create_from_payment": "payment",
    "allocations.assign_trainer": "purchase",
    "tutoring.schedule_sessions": "allocation",
    "pipeline.notify_allocation": "allocation",
}
# Pushed events by their kind (the type before the dot) -> the kind of id they carry.
PUSH_SUBJECTS: dict[str, str] = {"payment": "payment", "allocation": "allocation", "purchase": "purchase"}
MESSAGE_MAX = 500

_buffer: deque[TimelineEvent] = deque()
_lock = threading.Lock()
_flusher: _Flusher | None = None
_per_task = False  # a Celery worker: flush after each task, start no thread


def subject(kind: str, object_id: object) -> str:
    return f"{kind}:{object_id}"


def task_subject(task_name: str, args: Any) -> str | None:
    """The subject of a pipeline task's message (its first argument), or None for any other task."""
    kind = TASK_SUBJECTS.get(task_name)
    if kind is None or not isinstance(args, (list, tuple)) or not args:
        return None
    object_id = args[0]
    if isinstance(object_id, bool) or not isinstance(object_id, int):
        return None
    return subject(kind, object_id)


def push_subject(event_type: str, object_id: object) -> str | None:
    kind = PUSH_SUBJECTS.get(event_type.partition(".")[0])
    return None if kind is None else subject(kind, object_id)


def _event(
    *, subject: str, kind: str, name: str, actor: str, detail: dict[str, Any] | None, correlation_id: str | None
) -> TimelineEvent:
    return TimelineEvent(
        occurred_at=timezone.now(),
        subject=subject[:64],
        kind=kind,
        name=name[:64],
        actor=actor[:64],
        correlation_id=(correlation_id or get_correlation_id() or "")[:128],
        detail=detail or {},
    )


def timeline_record_now(
    *,
    subject: str,
    kind: str,
    name: str,
    actor: str = "",
    detail: dict[str, Any] | None = None,
    correlation_id: str | None = None,
) -> None:
    """One INSERT on the caller's connection, in its transaction (a state change's own)."""
    if settings.TIMELINE_ENABLED:
        _event(subject=subject, kind=kind, name=name, actor=actor, detail=detail, correlation_id=correlation_id).save()


def timeline_record(
    *,
    subject: str,
    kind: str,
    name: str,
    actor: str = "",
    detail: dict[str, Any] | None = None,
    correlation_id: str | None = None,
) -> None:
    """Buffer one event for the next batch (no I/O); dropped and counted when the buffer is full."""
    if not settings.TIMELINE_ENABLED:
        return
    event = _event(subject=subject, kind=kind, name=name, actor=actor, detail=detail, correlation_id=correlation_id)
    with _lock:
        if len(_buffer) >= settings.TIMELINE_BUFFER_MAX:
            metrics.increment("timeline_dropped")
            return
        _buffer.append(event)
    if settings.TIMELINE_FLUSH_INTERVAL > 0 and not _per_task:
        _ensure_flusher()


def timeline_flush() -> int:
    """Write every buffered event with bulk INSERTs under TIMELINE_SQL_TIMEOUT; returns how many were written.

    On a database error the batch goes back to the front of the buffer (as room
    allows) for the next flush. Gives the connection back to the pool afterwards.
    """
    with _lock:
        batch = list(_buffer)
        _buffer.clear()
    if not batch:
        return 0
    try:
        with statement_timeout(settings.TIMELINE_SQL_TIMEOUT):
            TimelineEvent.objects.bulk_create(batch, batch_size=500)
    except DatabaseError as exc:
        logger.warning("timeline_flush_failed", events=len(batch), error_class=type(exc).__name__, error=str(exc)[:200])
        with _lock:
            room = max(0, settings.TIMELINE_BUFFER_MAX - len(_buffer))
            _buffer.extendleft(reversed(batch[:room]))
            if len(batch) > room:
                metrics.increment("timeline_dropped", len(batch) - room)
        return 0
    finally:
        if not connection.in_atomic_block:
            connection.close()
    metrics.increment("timeline_written", len(batch))
    return len(batch)


def timeline_flush_per_task() -> None:
    """This process is a Celery worker: from now on write after each task, never from a thread.

    Stops a flusher already started (events recorded while the worker booted).
    """
    global _per_task, _flusher
    _per_task = True
    flusher, _flusher = _flusher, None
    if flusher is not None:
        flusher.stopped.set()


def timeline_flush_after_task() -> int:
    """In a worker, after each task: write what the task buffered on this thread's connection,
    before Celery closes the pool; elsewhere nothing (a thread or the tests flush)."""
    if not _per_task or not _buffer:
        return 0
    return timeline_flush()


def timeline_flushes_per_task() -> bool:
    return _per_task


def timeline_buffered() -> int:
    return len(_buffer)


def timeline_discard() -> None:
    """Forget what is buffered, unwritten (tests)."""
    with _lock:
        _buffer.clear()


class _Flusher(threading.Thread):
    def __init__(self) -> None:
        super().__init__(name="timeline-flusher", daemon=True)
        self.pid = os.getpid()
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(settings.TIMELINE_FLUSH_INTERVAL):
            try:
                timeline_flush()
            except Exception:  # a flusher that dies would silently stop the timeline
                logger.exception("timeline_flusher_failed")


def _ensure_flusher() -> None:
    global _flusher
    if _flusher is not None and _flusher.pid == os.getpid() and _flusher.is_alive():
        return
    with _lock:
        if _flusher is None or _flusher.pid != os.getpid() or not _flusher.is_alive():
            _flusher = _Flusher()
            _flusher.start()


def timeline_stop() -> None:
    """Stop this process's flusher and write what is buffered (a clean shutdown)."""
    global _flusher
    flusher, _flusher = _flusher, None
    if flusher is not None:
        flusher.stopped.set()
    if _buffer:
        try:
            timeline_flush()
        except Exception:
            logger.exception("timeline_final_flush_failed")


def _forget_after_fork() -> None:
    """A forked child has neither the parent's flusher nor its events (the parent writes those)."""
    global _flusher, _lock
    _flusher, _lock = None, threading.Lock()
    _buffer.clear()


os.register_at_fork(after_in_child=_forget_after_fork)
atexit.register(timeline_stop)
