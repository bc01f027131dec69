"""The purchase pipeline's orchestration: start it, run a step and hand on to the next, resume stalls.

The order is apps/pipeline/steps.py. Every hand-off is a row of the outbox
(apps/outbox) written in the transaction of the work that calls for it, so it
is lost neither to a broker outage nor to a crash between commit and enqueue.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from functools import partial

import structlog
from django.utils import timezone

from apps.outbox.services import outbox_enqueue
from apps.pipeline.selectors import pipeline_stalled_ids
from apps.pipeline.steps import PIPELINE, Step, step_after, step_named

logger = structlog.get_logger(__name__)


def pipeline_start_for_payment(*, payment_id: int) -> None:
    """The first step for a succeeded payment, through the outbox: call it in the transaction that settles it."""
    _hand_to(PIPELINE[0], payment_id)


def pipeline_run_step(*, task_name: str, object_id: int) -> None:
    """Do the step's work and, in its transaction, write the next step to the outbox (every time)."""
    step = step_named(task_name)
    following = step_after(step)
    step.run(object_id, partial(_hand_to, following) if following else _last_step)


def _hand_to(step: Step, object_id: int) -> None:
    """One INSERT into the outbox, in the caller's transaction; published once that commits."""
    outbox_enqueue(task_name=step.task_name, args=[object_id])


def _last_step(object_id: int) -> None:
    """Nothing follows the last step."""


@dataclass(frozen=True)
class ResumeSummary:
    purchases: int
    allocations: int
    schedules: int
    # Stalled steps left alone because their task has an open dead letter: an operator acts first.
    skipped: int = 0


def pipeline_resume_stalled(*, older_than: datetime.timedelta, limit: int = 500) -> ResumeSummary:
    """Hand off again the steps whose hand-off was lost, through the outbox. One query per resumable step.

    Beat runs this; every step is idempotent, so a hand-off for work already
    under way costs one no-op task. A step whose task and id have an open dead
    letter failed for good: it is skipped (each query checks, resumable rows
    first), or beat would file the same failure every five minutes.
    """
    before = timezone.now() - older_than
    resumed: dict[str, int] = {}
    skipped = 0
    for step in PIPELINE:
        if step.stalled is None:
            continue
        stalled = pipeline_stalled_ids(stalled=step.stalled(before=before), task_name=step.task_name, limit=limit)
        for object_id in stalled.resumable:
            _hand_to(step, object_id)
        resumed[step.resumed_as] = len(stalled.resumable)
        skipped += stalled.skipped
    summary = ResumeSummary(**resumed, skipped=skipped)
    logger.info("pipeline_resumed", **summary.__dict__)
    return summary
