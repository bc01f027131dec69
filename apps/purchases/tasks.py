from __future__ import annotations

from celery import shared_task

from apps.core.tasks import ReliableTask, require_id
from apps.purchases.services import purchase_applied_for_payment, purchase_create_from_payment


@shared_task(
    base=ReliableTask,
    name="purchases.create_from_payment",
    ignore_result=True,
    idempotency_probe=staticmethod(purchase_applied_for_payment),
)
def purchases_create_from_payment(payment_id: int) -> None:
    """Pipeline step 1: payment succeeded -> purchase."""
    purchase_create_from_payment(payment_id=require_id(payment_id, "payment_id"))
