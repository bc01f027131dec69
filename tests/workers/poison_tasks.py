"""Tasks only the test workers load (celery worker --include)."""

from __future__ import annotations

import os
import signal

from celery import shared_task

from apps.workers.retry import ReliableTask
from lib.redis import get_client


@shared_task(base=ReliableTask, name="tests.kill_my_worker", ignore_result=True)
def kill_my_worker(marker: str) -> None:
    """A poison message: every delivery kills the pool process running it."""
    os.kill(os.getpid(), signal.SIGKILL)


def cured_key(marker: str) -> str:
    return f"tests:cured:{marker}"


def ran_key(marker: str) -> str:
    return f"tests:ran:{marker}"


@shared_task(name="tests.die_until_cured", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def die_until_cured(marker: str, *, note: str = "") -> None:
    """Outside ReliableTask, so our poison check never files it: every delivery kills the pool process running
    it until the marker is cured, and only RabbitMQ's delivery limit ends the loop."""
    client = get_client("write")
    if not client.exists(cured_key(marker)):
        os._exit(1)
    client.set(ran_key(marker), note, ex=300)
