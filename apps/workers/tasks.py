from __future__ import annotations

from celery import shared_task

from apps.workers.retry import ReliableTask
from apps.workers.services import deadletter_prune


@shared_task(base=ReliableTask, name="deadletters.prune", ignore_result=True)
def deadletters_prune() -> None:
    """Beat: drop letters closed longer ago than DEADLETTER_RETENTION_DAYS (each prune is audited)."""
    deadletter_prune()
