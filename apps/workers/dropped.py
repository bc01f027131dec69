"""Messages RabbitMQ gave up on, filed as dead letters: the broker's side of "no event is silently dropped".

A task queue dead-letters a message to the dead queue (ops_console/queues.py) when it was returned more
often than CELERY_QUEUE_DELIVERY_LIMIT (its workers kept dying before our poison check could run it) or
when a worker rejected it without requeue (an unknown task, a body it could not decode). The
`deadletters.collect_dropped` task files each as a DeadLetter through `deadletter_record`, so grouping,
replay and discard work as for any other letter.

In order, per message:
1. take it unacknowledged (basic_get, bounded by the connection's timeouts);
2. record it and commit;
3. acknowledge it. A failure between 2 and 3 leaves it in the queue: the next run records it again, and
   the letter's unique task id makes that an update of the same letter, not a second one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import structlog
from django.conf import settings
from django.db import transaction

from apps.workers.retry import DeadLetterReason
from apps.workers.services import REPLAY_HEADER, DeadLetterRecord, deadletter_record
from lib import metrics
from lib.broker import bounded_transport_options
from ops_console.queues import dead_queue

logger = structlog.get_logger(__name__)

# Messages one run files at most; the rest wait for the next run.
COLLECT_BATCH = 100
# Seconds each broker operation of a run may take (connect, each get and ack).
COLLECT_TIMEOUT_S = 5.0
# The task header that carries the correlation id (apps/web/correlation.py writes it).
CORRELATION_HEADER = "x_correlation_id"


@dataclass(frozen=True)
class DroppedSummary:
    recorded: int
    left: bool  # the batch filled up: more may be waiting


def deadletter_collect_dropped(*, limit: int = COLLECT_BATCH) -> DroppedSummary:
    """File up to `limit` messages of the dead queue as letters, acknowledging each after its letter commits.

    Talks to RabbitMQ (declares the dead queue, then one get and one ack per message, each bounded by
    COLLECT_TIMEOUT_S) and writes PostgreSQL. Must not run inside a transaction: an ack before the real
    commit could lose the message.
    """
    from ops_console.celery import app

    if transaction.get_connection().in_atomic_block:
        raise RuntimeError("deadletter_collect_dropped acknowledges after commit: call it outside a transaction")
    options = bounded_transport_options("amqp", timeout=COLLECT_TIMEOUT_S, connect_timeout=COLLECT_TIMEOUT_S)
    recorded = 0
    with app.connection_for_write(transport_options=options) as connection:
        connection.ensure_connection(max_retries=1)
        queue = dead_queue()(connection.default_channel)
        queue.declare()
        while recorded < limit and (message := queue.get(no_ack=False, accept=["json"])) is not None:
            record = dropped_message_record(headers=message.headers, properties=message.properties, body=message.body)
            letter = deadletter_record(record=record)
            message.ack()
            recorded += 1
            metrics.increment("task_dead_lettered", task=record.task_name, reason=record.reason)
            logger.error("task_dropped_by_broker", reason=record.reason, deadletter_id=letter.id, queue=record.queue)
    return DroppedSummary(recorded=recorded, left=recorded == limit)


def dropped_message_record(*, headers: dict[str, Any], properties: dict[str, Any], body: Any) -> DeadLetterRecord:
    """The letter for a Celery message RabbitMQ dead-lettered, from its headers (protocol 2) and JSON body."""
    headers = dict(headers or {})
    deaths = headers.get("x-death") or [{}]
    death = deaths[0] if isinstance(deaths[0], dict) else {}
    broker_reason = str(death.get("reason") or headers.get("x-first-death-reason") or "unknown")
    args, kwargs = _call_arguments(body)
    replay_of = str(headers.get(REPLAY_HEADER) or "")
    return DeadLetterRecord(
        task_id=str(headers.get("id") or "")[:64],
        task_name=str(headers.get("task") or "unknown")[:200],
        queue=str(death.get("queue") or headers.get("x-first-death-queue") or "")[:100],
        args=args,
        kwargs=kwargs,
        exception_class=f"rabbitmq.{broker_reason}",
        message=f"{_explanation(broker_reason, headers)}\nx-death: {json.dumps(deaths, default=str)}"[:2000],
        traceback="",
        reason=BROKER_REASONS.get(broker_reason, f"broker_{broker_reason}")[:32],
        attempts=_int(headers.get("retries")) + 1,
        deliveries=_deliveries(broker_reason, headers),
        correlation_id=str(headers.get(CORRELATION_HEADER) or properties.get("correlation_id") or "")[:128],
        replay_of=int(replay_of) if replay_of.isdigit() else None,
    )


# RabbitMQ's x-death reasons, as DeadLetter.reason.
BROKER_REASONS = {"delivery_limit": DeadLetterReason.DELIVERY_LIMIT, "rejected": DeadLetterReason.REJECTED}


def _explanation(broker_reason: str, headers: dict[str, Any]) -> str:
    if broker_reason == "delivery_limit":
        deliveries = _deliveries(broker_reason, headers)
        return f"delivery limit exceeded: the message was delivered {deliveries} times without an ack"
    if broker_reason == "rejected":
        return "rejected without requeue by a worker (an unknown task, or a message it could not decode)"
    return f"dead-lettered by RabbitMQ ({broker_reason})"


def _deliveries(broker_reason: str, headers: dict[str, Any]) -> int:
    """RabbitMQ resets x-delivery-count when it dead-letters; past the limit a message was delivered limit + 1
    times (the limit counts returns)."""
    returned = _int(headers.get("x-delivery-count"))
    if broker_reason == "delivery_limit":
        returned = max(returned, settings.CELERY_QUEUE_DELIVERY_LIMIT)
    return returned + 1


def _call_arguments(body: Any) -> tuple[list[Any], dict[str, Any]]:
    """(args, kwargs) of a protocol 2 body `[args, kwargs, embed]`; what cannot be read becomes ([body], {})."""
    try:
        decoded = json.loads(body) if isinstance(body, (bytes, str)) else body
    except ValueError:
        return [body.decode("utf-8", "replace") if isinstance(body, bytes) else body], {}
    call = decoded[:2] if isinstance(decoded, list) else None
    if call and len(call) == 2 and isinstance(call[0], list) and isinstance(call[1], dict):
        return call[0], call[1]
    return [decoded], {}


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
