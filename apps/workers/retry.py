"""The retry and dead-letter policy every pipeline task runs under: one base class.

    @shared_task(base=ReliableTask, name="purchases.create_from_payment")
    def purchases_create_from_payment(payment_id: int) -> None: ...

What happens to an exception raised by a task:

- `AlreadyDone`: the work took effect earlier; the task succeeds quietly.
- transient (`TRANSIENT_ERRORS`: database operational errors, Redis and
  network timeouts, provider failures, `TransientTaskError`): retried with
  exponential backoff and jitter, at most `max_attempts` attempts in all, then
  dead-lettered.
- bad arguments (wrong signature, `InvalidTaskArguments`, an unknown record):
  dead-lettered at once with a validation reason.
- anything else is permanent: dead-lettered at once, never retried.

Messages are acknowledged after the task returns (`acks_late`) and requeued
when the worker process dies (`reject_on_worker_lost`), so every task built on
this class must be idempotent. A message delivered more than
TASK_MAX_DELIVERIES times (it keeps killing its worker) is dead-lettered
without running. On RabbitMQ the quorum queue's own count is used and its
delivery limit (CELERY_QUEUE_DELIVERY_LIMIT, never below TASK_MAX_DELIVERIES)
is a backstop: the broker gives up on a message only after we would have
dead-lettered it, and puts it in the dead queue, which apps/workers/dropped.py
files as letters.
"""

from __future__ import annotations

import inspect
import random
import socket
import traceback
from typing import Any

import redis
import structlog
from celery import Task
from celery.exceptions import Retry, SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import IntegrityError, InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerOperationalError

from apps.timeline.models import TimelineKind
from apps.timeline.recorder import task_subject, timeline_record
from lib import metrics
from lib.context import get_correlation_id
from lib.http import UpstreamError, UpstreamTimeout, UpstreamUnavailable
from lib.redis import REDIS_ERRORS, get_client

logger = structlog.get_logger(__name__)


class TransientTaskError(Exception):
    """The task may succeed later (e.g. no trainer has capacity yet): retry with backoff."""


class PermanentTaskError(Exception):
    """Retrying cannot help: dead-letter at once."""


class InvalidTaskArguments(PermanentTaskError):
    """The message itself is malformed: a missing id, a wrong type."""


class AlreadyDone(Exception):
    """The work already took effect; the task succeeds without doing anything."""


class DeadLetterReason:
    VALIDATION = "validation"
    PERMANENT = "permanent"
    RETRIES_EXHAUSTED = "retries_exhausted"
    POISON = "poison"
    # Filed from RabbitMQ's dead queue (apps/workers/dropped.py): the broker gave up on the message.
    DELIVERY_LIMIT = "delivery_limit"
    REJECTED = "rejected"


TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    TransientTaskError,
    OperationalError,
    InterfaceError,
    IntegrityError,  # a lost race: the retry finds the winner's row
    redis.ConnectionError,
    redis.TimeoutError,
    BrokerOperationalError,
    socket.timeout,
    ConnectionError,
    UpstreamTimeout,
    UpstreamUnavailable,
    UpstreamError,
    SoftTimeLimitExceeded,
)
# Set by RabbitMQ on a quorum queue's redeliveries: how often the message was returned (a worker died holding it).
BROKER_DELIVERY_COUNT_HEADER = "x-delivery-count"
VALIDATION_ERRORS: tuple[type[Exception], ...] = (InvalidTaskArguments, ObjectDoesNotExist, ValidationError)


def require_id(value: object, name: str) -> int:
    """`value` as a database id, or InvalidTaskArguments naming the argument."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidTaskArguments(f"{name} must be a positive integer, got {value!r}")
    return value


def backoff_seconds(attempt: int) -> float:
    """Countdown before retry number `attempt` (1-based): exponential, capped, with equal jitter."""
    ceiling = min(settings.TASK_RETRY_BACKOFF_MAX, settings.TASK_RETRY_BACKOFF_BASE * 2 ** (attempt - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


class ReliableTask(Task):
    """Base of every idempotent task: the policy in the module docstring."""

    abstract = True
    acks_late = True
    reject_on_worker_lost = True
    max_retries = None  # counted here, against max_attempts_setting
    max_attempts_setting = "TASK_MAX_ATTEMPTS"

    @property
    def max_attempts(self) -> int:
        return getattr(settings, self.max_attempts_setting)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # The worker's tracer has pushed the request; Task.__call__ would push an empty one.
        deliveries = self._count_delivery()
        if deliveries > settings.TASK_MAX_DELIVERIES:
            message = f"delivered {deliveries} times without finishing (the worker died running it)"
            return self._dead_letter(args, kwargs, PoisonMessage(message), reason=DeadLetterReason.POISON)
        try:
            self._run_signature().bind(*args, **kwargs)
        except TypeError as exc:
            return self._dead_letter(args, kwargs, InvalidTaskArguments(str(exc)), reason=DeadLetterReason.VALIDATION)
        try:
            result = self.run(*args, **kwargs)
        except AlreadyDone as exc:
            logger.info("task_already_done", detail=str(exc))
            result = None
        except Retry:
            raise
        except TRANSIENT_ERRORS as exc:
            return self._retry_or_dead_letter(args, kwargs, exc)
        except VALIDATION_ERRORS as exc:
            return self._dead_letter(args, kwargs, exc, reason=DeadLetterReason.VALIDATION)
        except Exception as exc:
            return self._dead_letter(args, kwargs, exc, reason=DeadLetterReason.PERMANENT)
        self._resolve_replayed()
        return result

    def _run_signature(self) -> inspect.Signature:
        """The signature of `run`, computed once per task object (and again if `run` is replaced)."""
        run = self.run
        function = getattr(run, "__func__", run)  # a bound method is a new object at every access
        cached = self.__dict__.get("_ops_run_signature")
        if cached is None or cached[0] is not function:
            cached = self.__dict__["_ops_run_signature"] = (function, inspect.signature(run))
        return cached[1]

    # --- policy steps ------------------------------------------------------------

    def _retry_or_dead_letter(self, args: tuple[Any, ...], kwargs: dict[str, Any], exc: Exception) -> None:
        attempt = self.request.retries + 1
        if attempt >= self.max_attempts or self.request.called_directly:
            return self._dead_letter(args, kwargs, exc, reason=DeadLetterReason.RETRIES_EXHAUSTED)
        countdown = backoff_seconds(attempt)
        logger.warning(
            "task_retry_scheduled", attempt=attempt, countdown=round(countdown, 3), error_class=type(exc).__name__
        )
        metrics.increment("task_retries", task=self.name)
        raise self.retry(exc=exc, countdown=countdown)

    def _dead_letter(self, args: tuple[Any, ...], kwargs: dict[str, Any], exc: Exception, *, reason: str) -> None:
        """Record the failure durably; the message is then acknowledged and the worker moves on.

        Writes to PostgreSQL. If that write fails, the message is retried later
        instead of being acknowledged and lost.
        """
        from apps.workers.services import REPLAY_HEADER, DeadLetterRecord, deadletter_record

        request = self.request
        replay_of = str(getattr(request, REPLAY_HEADER, None) or "")
        record = DeadLetterRecord(
            task_id=request.id or "",
            task_name=self.name,
            queue=(request.delivery_info or {}).get("routing_key") or "",
            args=list(args),
            kwargs=dict(kwargs),
            exception_class=f"{type(exc).__module__}.{type(exc).__qualname__}",
            message=str(exc)[:2000],
            traceback="".join(traceback.format_exception(exc)),
            reason=reason,
            attempts=request.retries + 1,
            deliveries=self._deliveries_seen(),
            correlation_id=get_correlation_id() or "",
            replay_of=int(replay_of) if replay_of.isdigit() else None,
        )
        try:
            deadletter_record(record=record)
        except (OperationalError, InterfaceError) as db_exc:
            if request.called_directly:
                raise
            logger.error("deadletter_write_failed", error_class=type(db_exc).__name__)
            raise self.retry(exc=exc, countdown=settings.TASK_RETRY_BACKOFF_MAX) from db_exc
        metrics.increment("task_dead_lettered", task=self.name, reason=reason)
        self._timeline_dead_lettered(args, record)
        logger.error("task_dead_lettered", reason=reason, error_class=record.exception_class, attempts=record.attempts)

    def _timeline_dead_lettered(self, args: tuple[Any, ...], record: Any) -> None:
        self.request.ops_dead_lettered = True  # type: ignore[attr-defined]  # read by apps.timeline.hooks
        subject = task_subject(self.name, args)
        if subject is not None:
            timeline_record(
                subject=subject,
                kind=TimelineKind.TASK,
                name="dead_lettered",
                actor=self.name,
                detail={"task_id": record.task_id, "reason": record.reason, "error_class": record.exception_class,
                        "error": record.message[:500], "attempts": record.attempts},
            )  # fmt: skip

    def _resolve_replayed(self) -> None:
        from apps.workers.services import REPLAY_HEADER, deadletter_mark_resolved_by_replay

        deadletter_id = getattr(self.request, REPLAY_HEADER, None)
        if deadletter_id:
            deadletter_mark_resolved_by_replay(deadletter_id=int(deadletter_id), task_id=self.request.id or "")

    # --- delivery counting (poison messages) --------------------------------------

    def _delivery_key(self) -> str:
        return f"{settings.CACHES['default']['KEY_PREFIX']}:task-deliveries:{self.request.id}:{self.request.retries}"

    def _count_delivery(self) -> int:
        """How many times this attempt's message has been delivered, this one included.

        A first delivery is 1 by definition and costs nothing. On RabbitMQ a
        quorum queue counts returns itself (the `x-delivery-count` header), so
        nothing else is asked. On Redis only redeliveries touch Redis (one
        pipelined INCR + EXPIRE, bounded by REDIS_WRITE_TIMEOUT); a Redis failure
        counts as a first delivery, so an outage never blocks work.
        """
        info = self.request.delivery_info or {}
        if not info.get("redelivered") or not self.request.id:
            self.request.ops_deliveries = 1  # type: ignore[attr-defined]  # our own field on Celery's request context
            return 1
        returned = getattr(self.request, BROKER_DELIVERY_COUNT_HEADER, None)
        if isinstance(returned, int) and not isinstance(returned, bool):
            redeliveries = returned
        else:
            redeliveries = self._count_redelivery_in_redis()
        self.request.ops_deliveries = redeliveries + 1  # type: ignore[attr-defined]  # as above
        return redeliveries + 1

    def _count_redelivery_in_redis(self) -> int:
        try:
            pipe = get_client("write").pipeline()
            pipe.incr(self._delivery_key())
            pipe.expire(self._delivery_key(), settings.TASK_VISIBILITY_TIMEOUT * (settings.TASK_MAX_DELIVERIES + 1))
            return pipe.execute()[0]
        except REDIS_ERRORS as exc:
            logger.warning("task_delivery_count_failed", error_class=type(exc).__name__)
            return 0

    def _deliveries_seen(self) -> int:
        return getattr(self.request, "ops_deliveries", 1)


class PoisonMessage(PermanentTaskError):
    """The message was delivered too often: each run killed its worker."""
