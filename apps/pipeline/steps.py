"""The purchase pipeline, in order: the one place that says which step follows which.

    payment succeeded (payment_settle starts it through the outbox)
      -> purchases.create_from_payment   [purchases]    one purchase per payment
      -> allocations.assign_trainer      [allocations]  a trainer of the course with capacity
      -> tutoring.schedule_sessions      [sessions]     Course.sessions_per_purchase weekly slots
      -> pipeline.notify_allocation      [cache]        student cache invalidated, event published

A step is its task's name and a function that does the work through one
domain service and calls `hand_on(id)` inside the transaction of that work,
every time, also when the work existed already (a redelivered message so
repairs a lost hand-off). The step does not know what follows: `hand_on` is
apps.pipeline.services writing the next step of this list to the outbox.
Task names are stored in outbox rows and dead letters and are routed to
queues by name (CELERY_TASK_ROUTES): never rename one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import QuerySet

from apps.allocations.services import allocation_assign_trainer
from apps.pipeline.events import pipeline_notify_allocation
from apps.pipeline.selectors import (
    pipeline_allocations_without_sessions,
    pipeline_payments_without_purchase,
    pipeline_purchases_without_allocation,
)
from apps.purchases.services import purchase_create_from_payment
from apps.tutoring.services import session_schedule_for_allocation

HandOn = Callable[[int], None]

CREATE_PURCHASE = "purchases.create_from_payment"
ASSIGN_TRAINER = "allocations.assign_trainer"
SCHEDULE_SESSIONS = "tutoring.schedule_sessions"
NOTIFY_ALLOCATION = "pipeline.notify_allocation"


@dataclass(frozen=True)
class Step:
    task_name: str
    run: Callable[[int, HandOn], None]
    # The resume job: this step's inputs left without its result since a time (a selector), and the
    # name of their count in ResumeSummary and the `pipeline_resumed` log line.
    stalled: Callable[..., QuerySet] | None = None
    resumed_as: str = ""


def _create_purchase(payment_id: int, hand_on: HandOn) -> None:
    with transaction.atomic():  # the purchase's payment lock is held until the hand-off is written
        hand_on(purchase_create_from_payment(payment_id=payment_id))


def _assign_trainer(purchase_id: int, hand_on: HandOn) -> None:
    # One short transaction per trainer tried (see the service): the hand-off joins the one holding the allocation.
    allocation_assign_trainer(purchase_id=purchase_id, on_assigned=hand_on)


def _schedule_sessions(allocation_id: int, hand_on: HandOn) -> None:
    with transaction.atomic():  # the allocation's lock is held until the hand-off is written
        session_schedule_for_allocation(allocation_id=allocation_id)
        hand_on(allocation_id)


def _notify_allocation(allocation_id: int, hand_on: HandOn) -> None:
    pipeline_notify_allocation(allocation_id=allocation_id)


PIPELINE: tuple[Step, ...] = (
    Step(CREATE_PURCHASE, _create_purchase, stalled=pipeline_payments_without_purchase, resumed_as="purchases"),
    Step(ASSIGN_TRAINER, _assign_trainer, stalled=pipeline_purchases_without_allocation, resumed_as="allocations"),
    Step(SCHEDULE_SESSIONS, _schedule_sessions, stalled=pipeline_allocations_without_sessions, resumed_as="schedules"),
    Step(NOTIFY_ALLOCATION, _notify_allocation),
)


def step_named(task_name: str) -> Step:
    return next(step for step in PIPELINE if step.task_name == task_name)


def step_after(step: Step) -> Step | None:
    """The step that follows `step`; None after the last."""
    position = PIPELINE.index(step)
    return PIPELINE[position + 1] if position + 1 < len(PIPELINE) else None
