"""A succeeded payment becomes a purchase, once (the pipeline's first step, apps/pipeline/steps.py).

Concurrency, in order:
1. The payment row is locked (SELECT ... FOR UPDATE) until the caller's
   transaction ends, so two deliveries of the same step run one after the
   other; the second finds the purchase.
2. student_course_purchases_payment_uniq backs that up: a racing insert fails
   with IntegrityError, which the task retries into the lookup.
"""

from __future__ import annotations

import structlog
from django.db import transaction

from apps.directory.models import Student
from apps.payments.models import Payment, PaymentStatus
from apps.purchases.models import StudentCoursePurchase
from apps.purchases.selectors import (
    PaymentToPurchase,
    purchase_get_for_payment,
    purchase_list_for_payment_or_active,
    purchase_lock_payment,
)
from apps.workers.retry import PermanentTaskError

logger = structlog.get_logger(__name__)


class PurchaseNotAllowed(PermanentTaskError):
    """The payment cannot become a purchase until an operator fixes its data."""


def purchase_create_from_payment(*, payment_id: int) -> int:
    """The id of the purchase a succeeded payment pays for, created on the first call. Two queries (three
    when it creates).

    Returns the existing purchase's id on a repeat, so a caller's follow-up runs every time.
    Inside a caller's transaction (the pipeline step's) it takes no savepoint: a
    failure here fails the caller's whole transaction, which never goes on after one.
    """
    with transaction.atomic(savepoint=False):
        # 1. Serialise deliveries of this step for this payment.
        payment = purchase_lock_payment(payment_id=payment_id)
        if payment is None:
            raise Payment.DoesNotExist(f"payment {payment_id} does not exist")
        found = purchase_list_for_payment_or_active(
            payment_id=payment_id, student_id=payment.student_id, course_id=payment.course_id
        )
        purchase_id = next((purchase.id for purchase in found if purchase.payment_id == payment_id), None)
        if purchase_id is None:
            _ensure_purchasable(payment_id, payment, active_purchase_exists=bool(found))
            # 2. A racing insert hits student_course_purchases_payment_uniq.
            purchase = StudentCoursePurchase.objects.create(
                payment_id=payment_id, student_id=payment.student_id, course_id=payment.course_id
            )
            purchase_id = purchase.id
            logger.info("purchase_created", purchase_id=purchase_id, payment_id=payment_id)
    return purchase_id


def purchase_applied_for_payment(payment_id: int) -> str | None:
    """Idempotency probe for replays: the purchase this payment already produced, if any."""
    purchase = purchase_get_for_payment(payment_id=payment_id)
    return f"payment {payment_id} already has purchase {purchase.id}" if purchase else None


def _ensure_purchasable(payment_id: int, payment: PaymentToPurchase, *, active_purchase_exists: bool) -> None:
    if payment.status != PaymentStatus.SUCCEEDED:
        raise PurchaseNotAllowed(f"payment {payment_id} is {payment.status}, not succeeded")
    if payment.student_status != Student.Status.ACTIVE:
        raise PurchaseNotAllowed(f"student {payment.student_id} is {payment.student_status}, not active")
    if active_purchase_exists:
        raise PurchaseNotAllowed(f"student {payment.student_id} already has an active purchase of this course")
