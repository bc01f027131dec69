"""Beat's timeline pruning. Thin: one service."""

from __future__ import annotations

from celery import shared_task

from apps.timeline.services import timeline_prune


@shared_task(name="timeline.prune", ignore_result=True)
def timeline_prune_task() -> None:
    """Beat, every 10 minutes: delete events past TIMELINE_RETENTION_DAYS. Not retried: the next run continues."""
    timeline_prune()
