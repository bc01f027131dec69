from __future__ import annotations

import datetime

from celery import shared_task

from apps.core.tasks import ReliableTask, require_id
from apps.pipeline.services import pipeline_notify_allocation as notify_allocation
from apps.pipeline.services import pipeline_resume_stalled


@shared_task(base=ReliableTask, name="pipeline.notify_allocation", ignore_result=True)
def pipeline_notify_allocation(allocation_id: int) -> None:
    """Pipeline step 4: invalidate caches and publish the business event."""
    notify_allocation(allocation_id=require_id(allocation_id, "allocation_id"))


@shared_task(base=ReliableTask, name="pipeline.resume_stalled", ignore_result=True)
def pipeline_resume_stalled_task() -> None:
    """Beat: re-enqueue pipeline steps whose hand-off was lost."""
    pipeline_resume_stalled(older_than=datetime.timedelta(minutes=10))
