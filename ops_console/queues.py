"""The queues the platform's workers consume: read by settings (WORKER_QUEUES, CELERY_TASK_QUEUES) and, before
Django is set up, by scripts/devstack.py. Routes to them are CELERY_TASK_ROUTES in settings."""

from __future__ import annotations

from typing import Any

from kombu import Exchange, Queue

WORKER_QUEUES = ("default", "purchases", "allocations", "sessions", "cache")
# RabbitMQ only: where a task queue puts what it gives up on (a message past the delivery limit, or rejected
# without requeue). No worker consumes it; the `deadletters.collect_dropped` task files its messages as letters.
DEAD_QUEUE = "dead"


def dead_queue() -> Queue:
    """The one durable quorum queue every task queue dead-letters to, on a direct exchange of its name."""
    return Queue(
        DEAD_QUEUE,
        Exchange(DEAD_QUEUE, type="direct", durable=True),
        routing_key=DEAD_QUEUE,
        durable=True,
        queue_arguments={"x-queue-type": "quorum"},
    )


class TaskQueue(Queue):
    """A task queue whose every declaration (worker start, first publish) declares the dead queue first, so
    RabbitMQ always has somewhere to put what the queue gives up on. Three idempotent round trips."""

    def declare(self, nowait: bool = False, channel: Any = None) -> str | None:
        dead_queue().declare(channel=channel or self.channel)
        return super().declare(nowait=nowait, channel=channel)


def task_queues(names: tuple[str, ...], *, kind: str, delivery_limit: int) -> tuple[Queue, ...] | None:
    """How the queues are declared on the broker: Celery's defaults on Redis (None), quorum queues on RabbitMQ.

    On RabbitMQ each queue is a durable quorum queue with a delivery limit, bound to a topic exchange of its
    name: Celery's native delayed delivery, which carries retry countdowns, cannot route through the direct
    exchanges it would make by default. A message returned more often than the limit (or rejected without
    requeue) is dead-lettered to DEAD_QUEUE at-least-once: RabbitMQ keeps it in the task queue until the dead
    queue has confirmed it. At-least-once needs `x-overflow: reject-publish`; our queues have no length limit,
    so that overflow setting never refuses a publish (docs/workers.md).
    Remote control (pidbox) and reply queues are Celery's own, classic and auto-deleted; they are not listed here.
    """
    if kind != "amqp":
        return None
    arguments = {
        "x-queue-type": "quorum",
        "x-delivery-limit": delivery_limit,
        "x-dead-letter-exchange": DEAD_QUEUE,
        "x-dead-letter-routing-key": DEAD_QUEUE,
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }
    return tuple(
        TaskQueue(
            name, Exchange(name, type="topic", durable=True), routing_key=name, durable=True, queue_arguments=arguments
        )
        for name in names
    )
