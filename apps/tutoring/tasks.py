from __future__ import annotations

from celery import shared_task

from apps.core.tasks import ReliableTask, require_id
from apps.tutoring.services import session_schedule_for_allocation, sessions_applied_for_allocation


@shared_task(
    base=ReliableTask,
    name="tutoring.schedule_sessions",
    ignore_result=True,
    idempotency_probe=staticmethod(sessions_applied_for_allocation),
)
def tutoring_schedule_sessions(allocation_id: int) -> None:
    """Pipeline step 3: allocation -> weekly sessions."""
    session_schedule_for_allocation(allocation_id=require_id(allocation_id, "allocation_id"))
