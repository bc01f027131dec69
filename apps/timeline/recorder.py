"""Recording timeline events: in the caller's transaction, or off the hot path in batches.

- `timeline_record_now` INSERTs one row on the caller's connection. Payment state
  changes use it inside the transaction that changes the status: that is a
  database write anyway, and the row commits (or rolls back) with the change.
- `timeline_record` appends to this process's buffer (microseconds). One daemon
  thread per process (web, worker pool process, beat: lib/background.py) writes
  the buffer with one bulk INSERT every TIMELINE_FLUSH_INTERVAL, under
  TIMELINE_SQL_TIMEOUT, on its own pooled connection. A worker's tasks never
  wait for it: a pipeline task records ~5 events, and writing them after each
  task was a transaction per task (docs/BENCHMARKS.md, "Pipeline throughput").
  The buffer holds at most TIMELINE_BUFFER_MAX events: past that, events are
  dropped and counted (`timeline_dropped`), never waited for. A process that
  crashes loses at most one interval of buffered events; a clean stop (worker
  shutdown, interpreter exit) writes them first. A write that fails (the
  database away, or the worker's pool closed by Celery's fixup at that moment:
  apps/workers/connections.py) keeps the batch for the next pass.
  TIMELINE_FLUSH_INTERVAL = 0 starts no thread: events wait for an explicit
  `timeline_flush()` (the in-process tests).

Subjects name what an event is about: "payment:<id>", "purchase:<id>",
"allocation:<id>"; a payment's timeline is its own subject and those of the
purchase and allocations it caused (apps.timeline.selectors).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from apps.timeline.models import TimelineEvent
from lib import metrics
from lib.background import Batcher
from lib.context import get_correlation_id
from lib.db import statement_timeout

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
    if settings.TIMELINE_ENABLED:
        _batcher.add(
            _event(subject=subject, kind=kind, name=name, actor=actor, detail=detail, correlation_id=correlation_id)
        )


def timeline_flush() -> int:
    """Write every buffered event now, on this thread; returns how many were written (0 after a database error,
    the batch kept for the next flush)."""
    return _batcher.flush()


def timeline_buffered() -> int:
    return _batcher.buffered()


def timeline_discard() -> None:
    """Forget what is buffered, unwritten (tests)."""
    _batcher.discard()


def timeline_stop() -> None:
    """Stop this process's writer thread and write what is buffered (a clean shutdown)."""
    _batcher.stop()


def _write(batch: Sequence[TimelineEvent]) -> None:
    """Bulk INSERTs under TIMELINE_SQL_TIMEOUT; gives the connection back to the pool afterwards."""
    try:
        with statement_timeout(settings.TIMELINE_SQL_TIMEOUT):
            TimelineEvent.objects.bulk_create(batch, batch_size=500)
    finally:
        if not connection.in_atomic_block:
            connection.close()
    metrics.increment("timeline_written", len(batch))


_batcher: Batcher[TimelineEvent] = Batcher(
    "timeline-flusher",
    write=_write,
    interval=lambda: settings.TIMELINE_FLUSH_INTERVAL,
    capacity=lambda: settings.TIMELINE_BUFFER_MAX,
    on_drop=lambda count: metrics.increment("timeline_dropped", count),
)
