"""The queues the platform's workers consume: read by settings (WORKER_QUEUES, CELERY_TASK_QUEUES) and, before
Django is set up, by scripts/devstack.py. Routes to them are CELERY_TASK_ROUTES in settings."""

from __future__ import annotations

from kombu import Exchange, Queue

WORKER_QUEUES = ("default", "purchases", "allocations", "sessions", "cache")


def task_queues(names: tuple[str, ...], *, kind: str, delivery_limit: int) -> tuple[Queue, ...] | None:
    """How the queues are declared on the broker: Celery's defaults on Redis (None), quorum queues on RabbitMQ.

    On RabbitMQ each queue is a durable quorum queue with a delivery limit (a message returned more often is
    dropped by the broker), bound to a topic exchange of its name: Celery's native delayed delivery, which
    carries retry countdowns, cannot route through the direct exchanges it would make by default.
    Remote control (pidbox) and reply queues are Celery's own, classic and auto-deleted; they are not listed here.
    """
    if kind != "amqp":
        return None
    arguments = {"x-queue-type": "quorum", "x-delivery-limit": delivery_limit}
    return tuple(
        Queue(
            name, Exchange(name, type="topic", durable=True), routing_key=name, durable=True, queue_arguments=arguments
        )
        for name in names
    )
