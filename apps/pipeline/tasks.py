"""The pipeline's Celery tasks: each parses its id and runs its step (apps/pipeline/steps.py, in order there).

Each keeps the name it was first registered under: outbox rows, dead letters
and CELERY_TASK_ROUTES refer to it. The idempotency probes tell a dead-letter
replay that the step's work already took effect; the replay guards refuse a
replay whose payment was refunded since (apps/pipeline/lineage.py).
"""

from __future__ import annotations

import datetime

from celery import shared_task

from apps.allocations.services import allocation_applied_for_purchase
from apps.pipeline.lineage import refunded_payment_guard
from apps.pipeline.services import pipeline_resume_stalled, pipeline_run_step
from apps.pipeline.steps import ASSIGN_TRAINER, CREATE_PURCHASE, NOTIFY_ALLOCATION, SCHEDULE_SESSIONS
from apps.purchases.services import purchase_applied_for_payment
from apps.tutoring.services import sessions_applied_for_allocation
from apps.workers.retry import ReliableTask, require_id


@shared_task(
    base=ReliableTask,
    name=CREATE_PURCHASE,
    ignore_result=True,
    idempotency_probe=staticmethod(purchase_applied_for_payment),
    replay_guard=staticmethod(refunded_payment_guard(CREATE_PURCHASE)),
)
def purchases_create_from_payment(payment_id: int) -> None:
    """Payment succeeded -> purchase."""
    pipeline_run_step(task_name=CREATE_PURCHASE, object_id=require_id(payment_id, "payment_id"))


@shared_task(
    base=ReliableTask,
    name=ASSIGN_TRAINER,
    ignore_result=True,
    max_attempts_setting="ALLOCATION_MAX_ATTEMPTS",
    idempotency_probe=staticmethod(allocation_applied_for_purchase),
    replay_guard=staticmethod(refunded_payment_guard(ASSIGN_TRAINER)),
)
def allocations_assign_trainer(purchase_id: int) -> None:
    """Purchase -> allocation; waits (with backoff) for a trainer with capacity."""
    pipeline_run_step(task_name=ASSIGN_TRAINER, object_id=require_id(purchase_id, "purchase_id"))


@shared_task(
    base=ReliableTask,
    name=SCHEDULE_SESSIONS,
    ignore_result=True,
    idempotency_probe=staticmethod(sessions_applied_for_allocation),
    replay_guard=staticmethod(refunded_payment_guard(SCHEDULE_SESSIONS)),
)
def tutoring_schedule_sessions(allocation_id: int) -> None:
    """Allocation -> weekly sessions."""
    pipeline_run_step(task_name=SCHEDULE_SESSIONS, object_id=require_id(allocation_id, "allocation_id"))


@shared_task(
    base=ReliableTask,
    name=NOTIFY_ALLOCATION,
    ignore_result=True,
    replay_guard=staticmethod(refunded_payment_guard(NOTIFY_ALLOCATION)),
)
def pipeline_notify_allocation(allocation_id: int) -> None:
    """Invalidate the student's cached lists and publish the business event."""
    pipeline_run_step(task_name=NOTIFY_ALLOCATION, object_id=require_id(allocation_id, "allocation_id"))


@shared_task(base=ReliableTask, name="pipeline.resume_stalled", ignore_result=True)
def pipeline_resume_stalled_task() -> None:
    """Beat: hand off again the pipeline steps whose hand-off was lost."""
    pipeline_resume_stalled(older_than=datetime.timedelta(minutes=10))
