"""Celery signal handlers: each pipeline task's message, enqueued, started, retried, succeeded or failed.

Dead-lettering is recorded by apps.workers.retry.ReliableTask itself (it knows
the reason); a task it dead-lettered ends in SUCCESS for Celery, so
`task_finished` skips it. Everything goes through the buffer (recorder.py),
which each pool process's writer thread writes in batches.
"""

from __future__ import annotations

from typing import Any

from apps.timeline.models import TimelineKind
from apps.timeline.recorder import (
    MESSAGE_MAX,
    task_subject,
    timeline_record,
)
from apps.web.correlation import CELERY_HEADER
from lib.context import valid_correlation_id

DEAD_LETTERED_FLAG = "ops_dead_lettered"


def _record(task_name: str, args: Any, name: str, request: Any = None, **detail: Any) -> None:
    """`request`: the task's, whose header names the message's correlation id (the context may be unbound)."""
    subject = task_subject(task_name, args)
    if subject is None:
        return
    correlation_id = valid_correlation_id(getattr(request, CELERY_HEADER, None)) if request is not None else None
    timeline_record(
        subject=subject,
        kind=TimelineKind.TASK,
        name=name,
        actor=task_name,
        detail=detail,
        correlation_id=correlation_id,
    )


def task_enqueued(
    sender: str | None = None, body: Any = None, headers: dict[str, Any] | None = None, routing_key: str = "", **_: Any
) -> None:
    """before_task_publish: protocol 2 bodies are (args, kwargs, embed)."""
    args = body[0] if isinstance(body, (list, tuple)) and body else None
    headers = headers or {}
    _record(
        sender or "", args, "enqueued", task_id=headers.get("id"), queue=routing_key, retries=headers.get("retries", 0)
    )


def task_started(task_id: str | None = None, task: Any = None, args: Any = None, **_: Any) -> None:
    request = getattr(task, "request", None)
    _record(
        getattr(task, "name", ""), args, "started", request, task_id=task_id, attempt=getattr(request, "retries", 0) + 1
    )


def task_retried(request: Any = None, reason: Any = None, sender: Any = None, **_: Any) -> None:
    error = getattr(reason, "exc", reason)
    _record(
        getattr(sender, "name", ""),
        getattr(request, "args", None),
        "retried",
        request,
        task_id=getattr(request, "id", None),
        attempt=getattr(request, "retries", 0) + 1,
        error_class=type(error).__name__,
        error=str(error)[:MESSAGE_MAX],
    )


def task_finished(
    task_id: str | None = None, task: Any = None, args: Any = None, state: str | None = None, **_: Any
) -> None:
    request = getattr(task, "request", None)
    # RETRY was recorded by task_retried; a dead letter by ReliableTask.
    if state == "FAILURE" or (state == "SUCCESS" and not getattr(request, DEAD_LETTERED_FLAG, False)):
        name = "succeeded" if state == "SUCCESS" else "failed"
        _record(getattr(task, "name", ""), args, name, request, task_id=task_id)
