"""The transactional outbox: a hand-off to a worker is durable as soon as the change that calls for it commits.

    with transaction.atomic():
        payment.save()
        outbox_enqueue(task_name="purchases.create_from_payment", args=[payment.id])

In order:
1. `outbox_enqueue` inserts a row in the caller's transaction: it commits or
   rolls back with the change.
2. On commit, the same process publishes the task (bounded by
   OUTBOX_PUBLISH_TIMEOUT per broker operation, one retry: under a second in
   all) and forgets the row: the process's writer thread deletes the rows it
   published in one statement every OUTBOX_FORGET_INTERVAL (lib/background.py),
   so a hand-off costs no transaction of its own after the publish. A failed
   publish only logs; the caller's answer never depends on the broker.
3. Rows still present OUTBOX_RELAY_GRACE seconds later are published by the
   relay (`manage.py outbox_relay`), which claims them with FOR UPDATE SKIP
   LOCKED, so any number of relays can run.

Delivery is at least once: a crash between publish and delete (up to one
OUTBOX_FORGET_INTERVAL of published rows) sends those tasks again, and every
task the outbox carries is idempotent.
"""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import kombu.pools
import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.outbox.models import OutboxMessage
from lib import metrics
from lib.background import Batcher
from lib.broker import bounded_transport_options, redis_publishing_connection
from lib.context import get_correlation_id, reset_correlation_id, set_correlation_id
from lib.db import db_connection_release, sql_row
from ops_console.celery import app

logger = structlog.get_logger(__name__)


@dataclass(frozen=True)
class SendOptions:
    """What a hand-off sets beyond task and arguments (a dead-letter replay: its own task id, header and delay)."""

    task_id: str | None = None
    countdown: float | None = None
    headers: dict[str, str] | None = None

    def as_json(self) -> dict[str, Any]:
        return {name: value for name, value in self.__dict__.items() if value}


def outbox_enqueue(
    *,
    task_name: str,
    args: Sequence[Any] = (),
    kwargs: dict[str, Any] | None = None,
    options: SendOptions | None = None,
) -> None:
    """Record the task in the current transaction and publish it once that commits. Runs one INSERT."""
    grace = datetime.timedelta(seconds=settings.OUTBOX_RELAY_GRACE)
    message = OutboxMessage(
        task_name=task_name,
        args=list(args),
        kwargs=dict(kwargs or {}),
        options=options.as_json() if options else {},
        correlation_id=get_correlation_id() or "",
        available_at=timezone.now() + grace,
    )
    with transaction.atomic(savepoint=False):
        message.id = _insert(message)
        transaction.on_commit(partial(_publish_committed, message))


# Written in SQL: every hand-off of the pipeline runs it, and the ORM's create cost a worker several times what
# PostgreSQL takes to run it (docs/BENCHMARKS.md, "Pipeline throughput"). Every column is named.
_INSERT_SQL = """
    INSERT INTO outbox_messages
        (task_name, args, kwargs, correlation_id, options, created_at, available_at, attempts, last_error)
    VALUES (%s, %s::jsonb, %s::jsonb, %s, %s::jsonb, now(), %s, 0, '')
    RETURNING id
"""


def _insert(message: OutboxMessage) -> int:
    row = sql_row(
        _INSERT_SQL,
        [
            message.task_name,
            json.dumps(message.args),
            json.dumps(message.kwargs),
            message.correlation_id,
            json.dumps(message.options),
            message.available_at,
        ],
    )
    assert row is not None  # INSERT ... RETURNING returns the row
    return int(row[0])


def _publish_committed(message: OutboxMessage) -> None:
    """After commit: publish and forget the row, or leave it to the relay. Never raises.

    The pooled connection goes back first: the pool must not wait on the broker.
    The task carries the correlation id the row stores, as it does from the relay.
    """
    token = set_correlation_id(message.correlation_id or None)
    try:
        db_connection_release()
        if outbox_publish(message=message):
            _forget_published(message.id)
    except Exception as exc:  # the change is committed; the relay finishes the hand-off
        logger.warning("outbox_publish_deferred", message_id=message.id, error_class=type(exc).__name__)
    finally:
        reset_correlation_id(token)


def _forget_published(message_id: int) -> None:
    """The row's task is with the broker: delete it in the next batch, or now (OUTBOX_FORGET_INTERVAL 0, or the
    batch is full)."""
    if settings.OUTBOX_FORGET_INTERVAL > 0 and _published.add(message_id):
        return
    OutboxMessage.objects.filter(id=message_id).delete()


def _delete_published(message_ids: Sequence[int]) -> None:
    """One DELETE for a batch of published rows; the connection goes back to the pool afterwards."""
    try:
        OutboxMessage.objects.filter(id__in=message_ids).delete()
    finally:
        db_connection_release()


def outbox_forget_published() -> int:
    """Delete the published rows this process still holds, now; returns how many (tests, and a clean stop)."""
    return _published.flush()


_published: Batcher[int] = Batcher(
    "outbox-forget", write=_delete_published, interval=lambda: settings.OUTBOX_FORGET_INTERVAL, capacity=lambda: 10_000
)


def outbox_publish(*, message: OutboxMessage) -> bool:
    """Send the message's task to the broker; False (logged, counted) when the broker did not take it.

    Talks to the broker: at most two attempts, each bounded by OUTBOX_PUBLISH_TIMEOUT
    for the connection, the pool checkout and every socket operation.
    """
    timeout = settings.OUTBOX_PUBLISH_TIMEOUT
    started = time.monotonic()
    try:
        with kombu.pools.producers[_publish_connection()].acquire(block=True, timeout=timeout) as producer:
            app.send_task(
                message.task_name,
                args=message.args,
                kwargs=message.kwargs,
                task_id=message.options.get("task_id"),
                countdown=message.options.get("countdown"),
                headers=message.options.get("headers"),
                producer=producer,
                retry=True,
                retry_policy={"max_retries": 1, "interval_start": 0.05, "interval_step": 0, "interval_max": 0.05},
            )
    except Exception as exc:  # kombu, redis and pool errors alike: the row stays for the relay
        metrics.increment("outbox_publish_failed", task=message.task_name)
        logger.warning(
            "outbox_publish_failed",
            message_id=message.id,
            task_name=message.task_name,
            error_class=type(exc).__name__,
            duration_ms=round((time.monotonic() - started) * 1000),
        )
        return False
    metrics.increment("outbox_published", task=message.task_name)
    return True


@dataclass(frozen=True)
class _Template:
    timeout: float
    celery_publishers: Any  # Celery's own producer pool when the template was built
    connection: Any


_template: _Template | None = None


def _publish_connection() -> Any:
    """A broker connection template with short timeouts; kombu pools connections per equal template.

    Built once per OUTBOX_PUBLISH_TIMEOUT and per Celery producer pool: Celery reads the broker settings
    (URLs, transport options) once, into that pool, and renews it after a fork or a reset of the pools
    (tests/support/workers.py's reset_broker_pools, which goes with every change of them in tests), so the
    outbox publishes where Celery does. Reading them here instead costs ~40 µs of Celery config lookups per
    publish. A template never connects itself: kombu's pools connect clones of it, and forget them after a
    fork. On Redis it publishes through one client per channel (lib/broker.py).
    """
    global _template
    timeout = settings.OUTBOX_PUBLISH_TIMEOUT
    celery_publishers = app.amqp.producer_pool
    template = _template
    if template is None or template.timeout != timeout or template.celery_publishers is not celery_publishers:
        connection = redis_publishing_connection(app.connection_for_write(transport_options=_publish_options(timeout)))
        template = _template = _Template(timeout, celery_publishers, connection)
    return template.connection


def _publish_options(timeout: float) -> dict[str, Any]:
    return {
        **app.conf.broker_transport_options,
        **bounded_transport_options(settings.CELERY_BROKER_KIND, timeout=timeout, connect_timeout=timeout),
        "max_retries": 1,
    }


@dataclass(frozen=True)
class RelaySummary:
    published: int
    failed: int


def outbox_relay_batch(*, limit: int) -> RelaySummary:
    """Publish up to `limit` due messages, oldest first; stop at the first the broker refuses.

    One transaction holds the claimed rows (FOR UPDATE SKIP LOCKED) while they
    are published, so two relays never send the same row at once. Each publish
    is bounded by outbox_publish; a refused one is pushed back with backoff and
    the rest wait for the next pass, so a broker outage costs one bounded
    attempt per pass.
    """
    published: list[int] = []
    failed = 0
    with transaction.atomic():
        due = OutboxMessage.objects.select_for_update(skip_locked=True).filter(available_at__lte=timezone.now())
        for message in due.order_by("available_at", "id")[:limit]:
            token = set_correlation_id(message.correlation_id or None)
            try:
                sent = outbox_publish(message=message)
            finally:
                reset_correlation_id(token)
            if not sent:
                _push_back(message)
                failed = 1
                break
            published.append(message.id)
        OutboxMessage.objects.filter(id__in=published).delete()
    summary = RelaySummary(published=len(published), failed=failed)
    if published or failed:
        logger.info("outbox_relayed", **summary.__dict__)
    return summary


def _push_back(message: OutboxMessage) -> None:
    """Behind the other due messages, so one that keeps failing never holds up the rest.

    No growing backoff: a refused publish almost always means the broker is
    away for every message alike, and the relay already tries once per pass.
    """
    OutboxMessage.objects.filter(id=message.id).update(
        attempts=F("attempts") + 1,
        available_at=timezone.now() + datetime.timedelta(seconds=settings.OUTBOX_RELAY_INTERVAL),
        last_error="the broker did not accept the task",
    )
