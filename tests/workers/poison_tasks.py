"""Tasks only the test workers load (celery worker --include)."""

from __future__ import annotations

import os
import signal

from celery import shared_task

from apps.workers.retry import ReliableTask


@shared_task(base=ReliableTask, name="tests.kill_my_worker", ignore_result=True)
def kill_my_worker(marker: str) -> None:
    """A poison message: every delivery kills the pool process running it."""
    os.kill(os.getpid(), signal.SIGKILL)
