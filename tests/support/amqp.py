"""The tests' view of RabbitMQ when it is the broker: the queues of the session's virtual host, read and emptied."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import amqp.exceptions
from django.conf import settings
from kombu.transport.native_delayed_delivery import MAX_LEVEL, level_name

from lib.broker import amqp_queue_depths
from ops_console.celery import app
from ops_console.queues import DEAD_QUEUE

# Where countdowns wait (Celery's native delayed delivery): emptied with the worker queues, or a retry
# scheduled by one test would land in the next one's queue.
DELAYED_QUEUES = tuple(level_name(level) for level in range(MAX_LEVEL + 1))


def amqp_queues_purge() -> None:
    """Empty every worker queue, delay queue and the dead queue of the broker's virtual host (a missing queue is
    empty)."""
    with app.connection_for_write() as connection:
        channel = connection.channel()
        for queue in (*settings.WORKER_QUEUES, *DELAYED_QUEUES, DEAD_QUEUE):
            try:
                channel.queue_purge(queue)
            except amqp.exceptions.NotFound:
                channel = connection.channel()  # RabbitMQ closed the channel that asked
        channel.close()


def amqp_queue_messages(queue: str) -> list[dict[str, Any]]:
    """The messages waiting in `queue`, as {"headers", "body"}, left in place: taken unacknowledged, then returned
    when the channel closes."""
    messages = []
    with app.connection_for_write() as connection:
        channel = connection.channel()
        try:
            while (message := channel.basic_get(queue, no_ack=False)) is not None:
                messages.append({"headers": dict(message.headers or {}), "body": json.loads(message.body)})
        except amqp.exceptions.NotFound:
            return []
        channel.close()
    return messages


def rabbitmqctl(*args: str) -> str:
    """`rabbitmqctl ARGS` on this machine's RabbitMQ (the one CELERY_BROKER_URL names), bounded; its output."""
    executable = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    completed = subprocess.run([executable, "-q", *args], capture_output=True, text=True, timeout=60, check=True)
    return completed.stdout


def amqp_queue_depth(queue: str) -> int:
    """Messages ready in `queue` (0 for a queue the broker does not have), by a passive declare."""
    with app.connection_for_read() as connection:
        return amqp_queue_depths(connection, [queue])[queue]
