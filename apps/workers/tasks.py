from __future__ import annotations

from celery import shared_task
from django.conf import settings

from apps.workers.dropped import deadletter_collect_dropped
from apps.workers.retry import ReliableTask, require_id
from apps.workers.services import REPLAY_JOB_TASK, deadletter_prune, deadletter_replay_job_run


@shared_task(base=ReliableTask, name="deadletters.prune", ignore_result=True)
def deadletters_prune() -> None:
    """Beat: drop letters closed longer ago than DEADLETTER_RETENTION_DAYS (each prune is audited)."""
    deadletter_prune()


@shared_task(base=ReliableTask, name=REPLAY_JOB_TASK, ignore_result=True)
def deadletters_replay_job(job_id: int) -> None:
    """A replay job's next run: well inside the soft time limit, then it hands itself on with its progress."""
    budget = min(30.0, settings.CELERY_TASK_SOFT_TIME_LIMIT / 2)
    deadletter_replay_job_run(job_id=require_id(job_id, "job_id"), budget_s=budget)


@shared_task(base=ReliableTask, name="deadletters.collect_dropped", ignore_result=True)
def deadletters_collect_dropped() -> None:
    """Beat, RabbitMQ only: file what the task queues dead-lettered (past the delivery limit) as letters."""
    if settings.CELERY_BROKER_KIND == "amqp":
        deadletter_collect_dropped()
