"""A purchase gets a trainer who teaches its course and has capacity (a pipeline step, apps/pipeline/steps.py).

Concurrency, in order:
1. Each candidate is tried in its own short transaction that locks the
   purchase, then one trainer (SELECT ... FOR UPDATE). Locks are always taken
   in that order and at most one trainer is held, so allocators never deadlock.
   A first pass skips a trainer another allocator holds (SKIP LOCKED) and
   tries the next: concurrent allocations of a popular course spread over its
   trainers instead of queueing behind the least loaded one's lock. Only if no
   free candidate had room does a second pass wait for the ones it skipped.
   That is why this service owns its transactions: a caller's follow-up runs
   inside the one that made or found the allocation (`on_assigned`) instead
   of wrapping them all, which would hold every trainer tried until the end.
2. Under the trainer's lock, its active allocations are counted against
   Trainer.capacity; concurrent allocations to one trainer wait for each other,
   so capacity is never exceeded.
3. Under the purchase's lock an existing open allocation is returned
   (trainer_allocations_purchase_open_uniq backs this up).
4. No trainer with room: TrainerUnavailable, which the task retries with backoff.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog
from django.db import transaction
from django.utils import timezone

from apps.allocations.models import TrainerAllocation
from apps.allocations.selectors import (
    allocation_candidate_trainer_ids,
    allocation_count_for_trainer,
    allocation_lock_purchase,
    allocation_lock_trainer,
    allocation_open_id_for_purchase,
)
from apps.directory.models import Trainer
from apps.purchases.models import StudentCoursePurchase
from apps.workers.retry import AlreadyDone, TransientTaskError

logger = structlog.get_logger(__name__)

OnAssigned = Callable[[int], None]


class TrainerUnavailable(TransientTaskError):
    """No active trainer of the course has capacity now; capacity frees up or trainers are added."""


def allocation_assign_trainer(*, purchase_id: int, on_assigned: OnAssigned = lambda allocation_id: None) -> int:
    """The id of the purchase's open allocation, assigning the least-loaded trainer with room on the first call.

    Runs one query to rank trainers, then a short transaction per candidate.
    `on_assigned(allocation_id)` runs in the transaction that creates or finds the
    allocation, every time (also on a repeat), so what the caller writes there commits with it.
    """
    held: list[int] = []
    for trainer_id in allocation_candidate_trainer_ids(purchase_id=purchase_id):
        outcome = _allocate_to(purchase_id=purchase_id, trainer_id=trainer_id, on_assigned=on_assigned, wait=False)
        if isinstance(outcome, int):
            return outcome
        if outcome is _HELD:
            held.append(trainer_id)
    for trainer_id in held:  # every free candidate was full: wait for those another allocator held
        outcome = _allocate_to(purchase_id=purchase_id, trainer_id=trainer_id, on_assigned=on_assigned, wait=True)
        if isinstance(outcome, int):
            return outcome
    with transaction.atomic():
        existing = allocation_open_id_for_purchase(purchase_id=purchase_id)
        if existing is not None:  # no candidates, but an earlier delivery already allocated
            on_assigned(existing)
            return existing
    purchase = StudentCoursePurchase.objects.get(id=purchase_id)  # a purchase that does not exist raises here
    raise TrainerUnavailable(f"no trainer of course {purchase.course_id} has capacity")


def allocation_applied_for_purchase(purchase_id: int) -> str | None:
    """Idempotency probe for replays: the open allocation this purchase already has, if any."""
    allocation_id = allocation_open_id_for_purchase(purchase_id=purchase_id)
    return f"purchase {purchase_id} already has allocation {allocation_id}" if allocation_id else None


class _Held:
    """Another allocator holds the trainer's lock (a pass that does not wait)."""


_HELD = _Held()


def _allocate_to(*, purchase_id: int, trainer_id: int, on_assigned: OnAssigned, wait: bool) -> int | _Held | None:
    """The id of the allocation made (or found) with this trainer; None when the trainer has no room; _HELD when
    `wait` is False and another allocator holds the trainer."""
    with transaction.atomic():
        # 1. Purchase first, then one trainer: the same order everywhere.
        purchase = allocation_lock_purchase(purchase_id=purchase_id)
        if purchase is None:
            raise StudentCoursePurchase.DoesNotExist(f"purchase {purchase_id} does not exist")
        # 3. Already allocated by an earlier delivery.
        existing = allocation_open_id_for_purchase(purchase_id=purchase_id)
        if existing is not None:
            on_assigned(existing)
            return existing
        if not purchase.is_active:
            raise AlreadyDone(f"purchase {purchase_id} is no longer active")
        trainer = allocation_lock_trainer(trainer_id=trainer_id, wait=wait)
        if trainer is None:
            return None if wait else _HELD  # deleted meanwhile, or held by another allocator
        # 2. Capacity, counted under the trainer's lock.
        load = allocation_count_for_trainer(trainer_id=trainer_id)
        if trainer.status != Trainer.Status.ACTIVE or load >= trainer.capacity:
            return None
        allocation = TrainerAllocation.objects.create(
            purchase_id=purchase_id,
            student_id=purchase.student_id,
            course_id=purchase.course_id,
            trainer_id=trainer_id,
            status=TrainerAllocation.Status.ACTIVE,
            allocated_at=timezone.now(),
        )
        logger.info("allocation_assigned", allocation_id=allocation.id, trainer_id=trainer_id, load=load + 1)
        on_assigned(allocation.id)
    return allocation.id
