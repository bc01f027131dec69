"""Payment writes: create once per idempotency key, charge once, settle by the state machine.

Concurrency, in order:
1. The idempotency key is unique in the database: concurrent creates with one
   key insert one row; the others read it back.
2. Only the caller that moves the payment from created to pending (a
   conditional UPDATE) talks to the provider; everyone else returns the row.
3. The provider call happens outside any transaction and carries the same
   idempotency key, so a retry or a reconciliation never charges twice.
4. Settling locks the row (SELECT ... FOR UPDATE) and checks the transition;
   a repeated settlement to the same status is a no-op.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from functools import partial

import structlog
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.directory.models import Course, Student
from apps.payments.models import Payment, PaymentStatus
from apps.payments.provider import ProviderTimeout, ProviderUnavailable, provider_charge
from apps.realtime.services import OPS_GROUP, publish_event

logger = structlog.get_logger(__name__)


class PaymentError(Exception):
    code = "payment_error"


class UnknownReference(PaymentError):
    """The student or course does not exist."""

    code = "unknown_reference"

    def __init__(self, field: str) -> None:
        super().__init__(f"No such {field.removesuffix('_id')}.")
        self.field = field


class IdempotencyKeyReused(PaymentError):
    code = "idempotency_key_reused"


class IllegalTransition(PaymentError):
    code = "illegal_transition"

    def __init__(self, payment: Payment, target: str) -> None:
        super().__init__(f"A {payment.status} payment cannot become {target}.")
        self.payment = payment
        self.target = target


@dataclass(frozen=True)
class PaymentRequest:
    student_id: int
    course_id: int
    amount: Decimal
    currency: str
    idempotency_key: str


def payment_create(*, request: PaymentRequest) -> tuple[Payment, bool]:
    """Create and charge a payment, once per idempotency key; returns (payment, created).

    Talks to the database and, for a new payment, to the provider (bounded by
    PAYMENT_TIMEOUT and the request deadline). Raises ProviderTimeout or
    ProviderUnavailable with the payment left pending for reconciliation.
    """
    payment, created = _payment_insert_once(request)
    if not created:
        _ensure_same_request(payment, request)
        return payment, False
    logger.info("payment_created", payment_id=payment.id, student_id=payment.student_id, amount=str(payment.amount))
    return payment_charge(payment_id=payment.id), True


def _payment_insert_once(request: PaymentRequest) -> tuple[Payment, bool]:
    existing = Payment.objects.filter(idempotency_key=request.idempotency_key).first()
    if existing is not None:
        return existing, False
    if not Student.objects.filter(id=request.student_id).exists():
        raise UnknownReference("student_id")
    if not Course.objects.filter(id=request.course_id).exists():
        raise UnknownReference("course_id")
    try:
        with transaction.atomic():
            payment = Payment.objects.create(
                student_id=request.student_id,
                course_id=request.course_id,
                amount=request.amount,
                currency=request.currency,
                idempotency_key=request.idempotency_key,
            )
    except IntegrityError:
        # A concurrent request with the same key won the insert (it has committed).
        return Payment.objects.get(idempotency_key=request.idempotency_key), False
    return payment, True


def _ensure_same_request(payment: Payment, request: PaymentRequest) -> None:
    same = (payment.student_id, payment.course_id, payment.amount, payment.currency) == (
        request.student_id,
        request.course_id,
        request.amount,
        request.currency,
    )
    if not same:
        raise IdempotencyKeyReused("This Idempotency-Key was used for a different payment.")


def payment_charge(*, payment_id: int) -> Payment:
    """Charge a created payment at the provider, if this caller wins the claim.

    Runs two queries and one provider call. A payment someone else is already
    charging, or that is settled, is returned unchanged.
    """
    # 1. Claim: only one caller moves created -> pending.
    claimed = Payment.objects.filter(id=payment_id, status=PaymentStatus.CREATED).update(
        status=PaymentStatus.PENDING, updated_at=timezone.now()
    )
    payment = Payment.objects.get(id=payment_id)
    if not claimed:
        return payment
    logger.info("payment_state_changed", payment_id=payment.id, old="created", new="pending")
    # 2. Charge outside any transaction; the idempotency key guards against a second charge.
    result = provider_charge(payment=payment)
    # 3. Settle through the state machine.
    return payment_settle(payment_id=payment.id, status=result.status, provider_payment_id=result.provider_payment_id)


def payment_settle(*, payment_id: int, status: str, provider_payment_id: str | None = None) -> Payment:
    """Move a payment to `status` if the state machine allows it; the same status again is a no-op.

    When the transaction commits, the change is published to the student's login
    and the ops stream, and on success the downstream work is enqueued.
    """
    with transaction.atomic():
        payment = Payment.objects.select_for_update(of=("self",)).select_related("student").get(id=payment_id)
        if payment.status == status:
            return payment
        if not payment.can_become(status):
            raise IllegalTransition(payment, status)
        old = payment.status
        payment.status = status
        if provider_payment_id and not payment.provider_payment_id:
            payment.provider_payment_id = provider_payment_id
        payment.save(update_fields=["status", "provider_payment_id", "updated_at"])
        logger.info("payment_state_changed", payment_id=payment.id, old=old, new=status)
        if status == PaymentStatus.SUCCEEDED:
            transaction.on_commit(partial(_enqueue_payment_succeeded, payment.id, payment.student_id))
        # After the downstream work, and robust: a notification must never cost the pipeline.
        transaction.on_commit(partial(publish_event, **_status_event(payment)), robust=True)
    return payment


def _status_event(payment: Payment) -> dict:
    """publish_event's arguments for the payment's new status: `payment.succeeded`, `payment.failed`, ..."""
    return {
        "event_type": f"payment.{payment.status}",
        "object_id": payment.id,
        "data": {
            "payment_id": payment.id,
            "student_id": payment.student_id,
            "course_id": payment.course_id,
            "amount": str(payment.amount),
            "currency": payment.currency,
            "status": payment.status,
        },
        "user_ids": [payment.student.user_id] if payment.student.user_id else [],
        "groups": [OPS_GROUP],
    }


def _enqueue_payment_succeeded(payment_id: int, student_id: int) -> None:
    from apps.payments.tasks import payments_invalidate_student_cache
    from apps.pipeline.services import pipeline_start_for_payment

    payments_invalidate_student_cache.delay(student_id)
    pipeline_start_for_payment(payment_id=payment_id)
    logger.info("payment_downstream_enqueued", payment_id=payment_id)


@dataclass(frozen=True)
class ReconcileSummary:
    examined: int
    settled: int
    still_pending: int


def payment_reconcile_stuck(*, older_than: datetime.timedelta, limit: int = 500) -> ReconcileSummary:
    """Settle payments left created or pending (provider timeouts, crashed requests).

    Re-issues each charge with the payment's own idempotency key, so the
    provider answers with the original charge instead of making a second one.
    """
    cutoff = timezone.now() - older_than
    stuck = list(
        Payment.objects.filter(
            status__in=[PaymentStatus.CREATED, PaymentStatus.PENDING], updated_at__lt=cutoff
        ).order_by("updated_at")[:limit]
    )
    settled = 0
    for payment in stuck:
        if _reconcile_one(payment):
            settled += 1
    summary = ReconcileSummary(examined=len(stuck), settled=settled, still_pending=len(stuck) - settled)
    logger.info("payments_reconciled", **summary.__dict__)
    return summary


def _reconcile_one(payment: Payment) -> bool:
    try:
        if payment.status == PaymentStatus.CREATED:
            return payment_charge(payment_id=payment.id).status != PaymentStatus.PENDING
        result = provider_charge(payment=payment)
        payment_settle(payment_id=payment.id, status=result.status, provider_payment_id=result.provider_payment_id)
    except (ProviderTimeout, ProviderUnavailable) as exc:
        logger.warning("payment_reconcile_deferred", payment_id=payment.id, reason=type(exc).__name__)
        return False
    except IllegalTransition as exc:
        logger.error("payment_reconcile_conflict", payment_id=payment.id, current=exc.payment.status)
        return False
    return True
