from __future__ import annotations

from celery import shared_task

from apps.allocations.services import allocation_applied_for_purchase, allocation_assign_trainer
from apps.core.tasks import ReliableTask, require_id


@shared_task(
    base=ReliableTask,
    name="allocations.assign_trainer",
    ignore_result=True,
    max_attempts_setting="ALLOCATION_MAX_ATTEMPTS",
    idempotency_probe=staticmethod(allocation_applied_for_purchase),
)
def allocations_assign_trainer(purchase_id: int) -> None:
    """Pipeline step 2: purchase -> allocation; waits (with backoff) for a trainer with capacity."""
    allocation_assign_trainer(purchase_id=require_id(purchase_id, "purchase_id"))
