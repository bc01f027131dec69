"""Payment writes: create once per idempotency key, charge once, settle by the state machine.

Concurrency, in order:
1. The idempotency key is unique in the database: concurrent creates with one
   key insert one row; the others read it back.
2. One payment per student and course may be in flight (created or pending):
   payments_student_course_in_flight_uniq refuses a second insert. In the same
   transaction, after the insert, a course already paid for (an active
   purchase, or a succeeded payment the pipeline has not turned into one yet)
   refuses it too. A payment that settled while the insert waited on the
   index is visible to that later statement, so no request races past both.
3. Only the caller that moves the payment from created to pending (a
   conditional UPDATE) talks to the provider; everyone else returns the row.
4. The provider call happens outside any transaction, with the pooled
   database connection given back first, and carries the same idempotency
   key, so a retry never charges twice. Reconciliation only reads the
   provider (by that key); it never charges.
5. Settling locks the row (SELECT ... FOR UPDATE) and checks the transition;
   a repeated settlement to the same status is a no-op. The pipeline's first
   step is written to the outbox in the same transaction.
6. Expiring a payment the provider never charged locks it and re-checks
   that it is still in flight and unchanged since the cutoff, so a request
   that claimed it meanwhile is never expired under its feet.
7. Every status change (the claim, every settlement) writes the invalidation
   of the student's cached lists to the outbox in its transaction.
"""

from __future__ import annotations

import datetime
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from functools import partial

import structlog
from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from apps.directory.selectors import course_exists, student_exists
from apps.outbox.services import outbox_enqueue
from apps.payments.models import IN_FLIGHT_CONSTRAINT, IN_FLIGHT_STATUSES, Payment, PaymentStatus
from apps.payments.provider import ProviderTimeout, ProviderUnavailable, provider_charge, provider_charge_lookup
from apps.payments.selectors import (
    payment_get_by_idempotency_key,
    payment_get_in_flight,
    payment_get_paying_for_course,
    payment_list_stuck,
)
from apps.pipeline.services import pipeline_start_for_payment
from apps.realtime.services import OPS_GROUP, publish_event
from apps.timeline.models import TimelineKind
from apps.timeline.recorder import subject, timeline_record_now
from lib.db import db_connection_release, integrity_constraint_name

logger = structlog.get_logger(__name__)

# Who moved a payment, as its timeline says.
ACTOR_API = "api"
ACTOR_WEBHOOK = "webhook"
ACTOR_RECONCILIATION = "reconciliation"
ACTOR_OPERATOR = "operator"


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


class CoursePaymentConflict(PaymentError):
    """The student already paid for the course, or a payment for it is under way: refused before any charge."""

    def __init__(self, message: str, *, code: str, **context: object) -> None:
        super().__init__(message)
        self.code = code
        self.context = {name: value for name, value in context.items() if value is not None}


class SettlementDeferred(PaymentError):
    """The provider answered, but the database could not record it now (pool exhausted, PostgreSQL away).

    The charge stands at the provider; the payment stays pending until its
    webhook or reconciliation settles it. Callers answer 202, never a 5xx.
    """

    code = "settlement_deferred"

    def __init__(self, payment: Payment, provider_status: str) -> None:
        super().__init__(f"The provider answered {provider_status}; the payment will be settled shortly.")
        self.payment = payment
        self.provider_status = provider_status


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
    existing = payment_get_by_idempotency_key(idempotency_key=request.idempotency_key)
    if existing is not None:
        return existing, False
    if not student_exists(student_id=request.student_id):
        raise UnknownReference("student_id")
    if not course_exists(course_id=request.course_id):
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
            _ensure_course_not_paid(request)
            _timeline_state(payment, old=None, actor=ACTOR_API, amount=str(payment.amount), currency=payment.currency)
    except IntegrityError as exc:
        # A concurrent request with the same key won the insert (it has committed)...
        same_key = payment_get_by_idempotency_key(idempotency_key=request.idempotency_key)
        if same_key is not None:
            return same_key, False
        # ...or another payment for this student and course is in flight.
        if integrity_constraint_name(exc) == IN_FLIGHT_CONSTRAINT:
            raise _payment_in_progress(request) from exc
        raise
    return payment, True


def _ensure_course_not_paid(request: PaymentRequest) -> None:
    """One query; raises CoursePaymentConflict naming what already pays for the course."""
    paid = payment_get_paying_for_course(student_id=request.student_id, course_id=request.course_id)
    if paid is None:
        return
    if paid.active_purchase_id is not None:
        raise CoursePaymentConflict(
            "The student already has an active purchase of this course.",
            code="course_already_purchased",
            purchase_id=paid.active_purchase_id,
            payment_id=paid.payment_id,
        )
    raise CoursePaymentConflict(
        "The student has paid for this course; its purchase is being created.",
        code="course_already_paid",
        payment_id=paid.payment_id,
    )


def _payment_in_progress(request: PaymentRequest) -> CoursePaymentConflict:
    in_flight = payment_get_in_flight(student_id=request.student_id, course_id=request.course_id)
    return CoursePaymentConflict(
        "Another payment for this student and course is in progress; retry it with its own Idempotency-Key.",
        code="payment_in_progress",
        payment_id=in_flight.id if in_flight else None,
        payment_status=in_flight.status if in_flight else None,
    )


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

    Runs two queries (three when it claims) and one provider call. A payment
    someone else is already charging, or that is settled, is returned unchanged.
    """
    # 1. Claim: only one caller moves created -> pending; the student's cached lists change with it.
    with transaction.atomic():
        claimed = Payment.objects.filter(id=payment_id, status=PaymentStatus.CREATED).update(
            status=PaymentStatus.PENDING, updated_at=timezone.now()
        )
        payment = Payment.objects.get(id=payment_id)
        if claimed:
            _hand_off_cache_invalidation(payment)
            _timeline_state(payment, old=PaymentStatus.CREATED, actor=ACTOR_API)
    if not claimed:
        return payment
    logger.info("payment_state_changed", payment_id=payment.id, old="created", new="pending")
    # 2. Charge outside any transaction, holding no pooled connection while the provider thinks;
    #    the idempotency key guards against a second charge.
    db_connection_release()
    result = provider_charge(payment=payment)
    # 3. Settle through the state machine; a database that cannot take it now leaves it to the webhook.
    try:
        return payment_settle(
            payment_id=payment.id, status=result.status, provider_payment_id=result.provider_payment_id, actor=ACTOR_API
        )
    except DatabaseError as exc:
        logger.error("payment_settle_deferred", payment_id=payment.id, error_class=type(exc).__name__)
        raise SettlementDeferred(payment, result.status) from exc


def payment_settle(
    *, payment_id: int, status: str, provider_payment_id: str | None = None, actor: str = ACTOR_API
) -> Payment:
    """Move a payment to `status` if the state machine allows it; the same status again is a no-op.

    `actor` (ACTOR_*: who moved it) goes on the payment's timeline, written in the same transaction.

    Every change writes the invalidation of the student's cached lists to the
    outbox in the same transaction (published when it commits), and a success
    the pipeline's first step too. The change is published to the student's
    login and the ops stream on commit.
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
        _hand_off_cache_invalidation(payment)
        _timeline_state(payment, old=old, actor=actor)
        if status == PaymentStatus.SUCCEEDED:
            pipeline_start_for_payment(payment_id=payment.id)
            logger.info("payment_downstream_enqueued", payment_id=payment.id)
        # Robust: a notification must never cost the caller its answer.
        transaction.on_commit(partial(_announce, _status_event(payment)), robust=True)
    return payment


def payment_change_status_by_operator(
    *, payment_id: int, status: str, actor_id: int | None, actor: str
) -> tuple[Payment, bool]:
    """An operator's status change (the admin): through payment_settle and its state machine, logged with who
    made it; returns (payment, changed). Raises IllegalTransition. Two queries more than payment_settle."""
    before = Payment.objects.values_list("status", flat=True).get(id=payment_id)
    payment = payment_settle(payment_id=payment_id, status=status, actor=ACTOR_OPERATOR)
    changed = before != payment.status
    if changed:
        logger.info(
            "payment_status_changed_by_operator", payment_id=payment_id, old=before, new=status, actor_id=actor_id,
            actor=actor,
        )  # fmt: skip
    return payment, changed


def _announce(event: dict) -> None:
    """After commit: publish to the live views, holding no pooled connection while Redis answers."""
    db_connection_release()
    publish_event(**event)


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


def _timeline_state(payment: Payment, *, old: str | None, actor: str, **detail: str) -> None:
    """The change on the payment's timeline: one INSERT in the caller's transaction (it writes anyway)."""
    timeline_record_now(
        subject=subject("payment", payment.id),
        kind=TimelineKind.STATE,
        name=payment.status,
        actor=actor,
        detail={"from": old, "to": payment.status, "provider_payment_id": payment.provider_payment_id, **detail},
    )


def _hand_off_cache_invalidation(payment: Payment) -> None:
    """Every status list of the student may have changed: one outbox INSERT, in the caller's transaction."""
    outbox_enqueue(task_name="payments.invalidate_student_cache", args=[payment.student_id])


@dataclass(frozen=True)
class ReconcileSummary:
    examined: int
    settled: int
    expired: int
    still_pending: int


def payment_reconcile_stuck(*, older_than: datetime.timedelta, limit: int = 500) -> ReconcileSummary:
    """Settle or expire payments left created or pending (provider timeouts, crashed requests).

    Reads each one's charge from the provider by its idempotency key and never
    makes one: a charge the provider has settles the payment; no charge after
    PAYMENT_EXPIRE_AFTER expires it (it was never charged, and now never will
    be); otherwise it waits for the next run. One provider read per payment.
    """
    now = timezone.now()
    expire_before = now - datetime.timedelta(seconds=settings.PAYMENT_EXPIRE_AFTER)
    stuck = list(payment_list_stuck(updated_before=now - older_than, limit=limit))
    outcomes = Counter(_reconcile_one(payment, expire_before=expire_before) for payment in stuck)
    summary = ReconcileSummary(
        examined=len(stuck),
        settled=outcomes["settled"],
        expired=outcomes["expired"],
        still_pending=outcomes["pending"],
    )
    logger.info("payments_reconciled", **summary.__dict__)
    return summary


def _reconcile_one(payment: Payment, *, expire_before: datetime.datetime) -> str:
    """ "settled", "expired" or "pending" (left for the next run). One provider read, no pooled connection held."""
    db_connection_release()
    try:
        charge = provider_charge_lookup(payment=payment)
        if charge is None:
            expired = payment_expire(payment_id=payment.id, unchanged_since=expire_before)
            return "expired" if expired else "pending"
        if payment.status == PaymentStatus.CREATED:  # crashed between its insert and its claim
            payment_settle(payment_id=payment.id, status=PaymentStatus.PENDING, actor=ACTOR_RECONCILIATION)
        payment_settle(
            payment_id=payment.id,
            status=charge.status,
            provider_payment_id=charge.provider_payment_id,
            actor=ACTOR_RECONCILIATION,
        )
    except (ProviderTimeout, ProviderUnavailable) as exc:
        logger.warning("payment_reconcile_deferred", payment_id=payment.id, reason=type(exc).__name__)
        return "pending"
    except IllegalTransition as exc:
        logger.error("payment_reconcile_conflict", payment_id=payment.id, current=exc.payment.status)
        return "pending"
    return "settled"


def payment_expire(*, payment_id: int, unchanged_since: datetime.datetime) -> bool:
    """Expire a payment in flight that the provider never charged; False when it moved since `unchanged_since`.

    The caller has read the provider (no charge under the payment's key). The
    row is locked and re-checked first: a request that claimed the payment
    meanwhile touched `updated_at`, and such a payment is left alone.
    """
    with transaction.atomic():
        payment = Payment.objects.select_for_update(of=("self",)).get(id=payment_id)
        if payment.status not in IN_FLIGHT_STATUSES or payment.updated_at >= unchanged_since:
            return False
        payment_settle(payment_id=payment_id, status=PaymentStatus.EXPIRED, actor=ACTOR_RECONCILIATION)
    logger.info("payment_expired", payment_id=payment_id, unchanged_since=unchanged_since.isoformat())
    return True
