"""The payments JSON API. Thin: parse (ninja, with apps/payments/schemas.py), call one service or selector, shape."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import structlog
from django.conf import settings
from django.http import HttpRequest
from ninja import Header, Path, Query, Router
from ninja.responses import Status

from apps.payments.models import Payment, PaymentStatus
from apps.payments.provider import ProviderTimeout, ProviderUnavailable, charge_matches, payment_id_from_reference
from apps.payments.schemas import (
    IDEMPOTENCY_KEY_PATTERN,
    MAX_LIST_LIMIT,
    PaymentCreateIn,
    PaymentListOut,
    PaymentOut,
    PaymentStatusIn,
    WebhookCharge,
    WebhookEvent,
    WebhookOut,
)
from apps.payments.selectors import (
    payment_get,
    payment_get_by_idempotency_key,
    payment_get_by_provider_id,
    payment_list_for_student_cached,
    payment_to_dict,
)
from apps.payments.services import (
    ACTOR_OPERATOR,
    ACTOR_WEBHOOK,
    CoursePaymentConflict,
    IdempotencyKeyReused,
    IllegalTransition,
    PaymentRequest,
    SettlementDeferred,
    UnknownReference,
    payment_create,
    payment_settle,
)
from apps.payments.webhooks import SIGNATURE_HEADER, webhook_signature_valid
from apps.web.api import Actor, ApiError, api_auth, body_bytes, documented
from lib.db import BIGINT_MAX

logger = structlog.get_logger(__name__)

router = Router(tags=["payments"])

PaymentId = Annotated[int, Path(ge=1, le=BIGINT_MAX, description="Out of range: 404")]
StudentId = Annotated[int, Path(ge=1, le=BIGINT_MAX, description="Out of range: 404")]
IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description="One payment per key: a retry with the same key and body returns it (200) without charging "
        "again; the same key with a different body is 422 `idempotency_key_reused`.",
    ),
]

_UNKNOWN_PAYMENT = "No such payment (`not_found`)"
_NO_RESOURCE = "The id is out of range or names no payment (`not_found`)"


def _payment_or_404(payment_id: int) -> Payment:
    payment = payment_get(payment_id=payment_id)
    if payment is None:
        raise ApiError("No such payment.", status=404, code="not_found")
    return payment


@router.post(
    "/payments",
    operation_id="payment_create",
    auth=api_auth("payments:write"),
    summary="Create and charge a payment, once per Idempotency-Key",
    **documented(
        scope="payments:write",
        body=True,
        ok={201: PaymentOut, 200: PaymentOut, 202: PaymentOut},
        errors={
            200: "The payment this Idempotency-Key already created; nothing is charged again",
            201: "Created and charged",
            202: "Charged, but not yet recorded (the database was busy): still `pending`; the provider's webhook "
            "or reconciliation settles it",
            400: "a student or course that does not exist (`unknown_reference`, in `error.fields`)",
            409: "The student already has a payment for the course in flight (`payment_in_progress`), paid and not "
            "yet purchased (`course_already_paid`) or an active purchase (`course_already_purchased`); "
            "`error.payment_id` / `error.purchase_id` names it",
            422: "The Idempotency-Key was used for a different payment (`idempotency_key_reused`)",
            502: "The provider is unavailable (`provider_unavailable`); the payment stays pending "
            "(`error.payment_id`) and is reconciled; retry with the same key",
            504: "the provider timed out (`provider_timeout`); the payment stays pending (`error.payment_id`)",
        },
    ),
)
def payment_create_view(
    request: HttpRequest, idempotency_key: IdempotencyKey, data: PaymentCreateIn
) -> Status[dict[str, object]]:
    payment_request = PaymentRequest(
        idempotency_key=idempotency_key,
        student_id=data.student_id,
        course_id=data.course_id,
        amount=Decimal(data.amount),
        currency=data.currency,
    )
    try:
        payment, created = payment_create(request=payment_request)
    except UnknownReference as exc:
        raise ApiError(str(exc), code=exc.code, fields={exc.field: [str(exc)]}) from exc
    except IdempotencyKeyReused as exc:
        raise ApiError(str(exc), status=422, code=exc.code) from exc
    except SettlementDeferred as exc:
        # Charged at the provider: an accepted answer, never a 5xx; the webhook or reconciliation settles it.
        return Status(202, payment_to_dict(exc.payment))
    except CoursePaymentConflict as exc:
        raise ApiError(str(exc), status=409, code=exc.code, extra=exc.context) from exc
    except ProviderTimeout as exc:
        raise _provider_error(idempotency_key, 504, "provider_timeout", str(exc)) from exc
    except ProviderUnavailable as exc:
        raise _provider_error(idempotency_key, 502, "provider_unavailable", str(exc)) from exc
    return Status(201 if created else 200, payment_to_dict(payment))


def _provider_error(key: str, status: int, code: str, message: str) -> ApiError:
    payment = payment_get_by_idempotency_key(idempotency_key=key)
    return ApiError(
        f"{message} The payment stays pending and will be reconciled; retry with the same Idempotency-Key.",
        status=status,
        code=code,
        extra={"payment_id": payment.id, "payment_status": payment.status} if payment else None,
    )


@router.get(
    "/payments/{int:payment_id}",
    operation_id="payment_detail",
    auth=api_auth("payments:read"),
    summary="A payment",
    **documented(scope="payments:read", ok={200: PaymentOut}, errors={404: _NO_RESOURCE}),
)
def payment_detail_view(request: HttpRequest, payment_id: PaymentId) -> dict[str, object]:
    return payment_to_dict(_payment_or_404(payment_id))


@router.get(
    "/students/{int:student_id}/payments",
    operation_id="student_payment_list",
    auth=api_auth("payments:read"),
    summary="A student's payments in one status, newest first",
    **documented(scope="payments:read", ok={200: PaymentListOut}, errors={404: "The id is out of range (`not_found`)"}),
)
def student_payment_list_view(
    request: HttpRequest,
    student_id: StudentId,
    status: Annotated[PaymentStatus, Query()],
    limit: Annotated[int, Query(ge=1, le=MAX_LIST_LIMIT)] = 50,
) -> dict[str, object]:
    return {"results": payment_list_for_student_cached(student_id=student_id, status=status, limit=limit)}


@router.post(
    "/payments/{int:payment_id}/status",
    operation_id="payment_status",
    auth=api_auth("payments:write"),
    summary="Move a payment through its state machine (e.g. mark it refunded)",
    **documented(
        scope="payments:write",
        body=True,
        ok={200: PaymentOut},
        errors={
            200: "Moved, or already there",
            404: _NO_RESOURCE,
            409: "The state machine forbids the move (`illegal_transition`); `error.current_status` names the state",
        },
    ),
)
def payment_status_view(request: HttpRequest, payment_id: PaymentId, data: PaymentStatusIn) -> dict[str, object]:
    payment = _payment_or_404(payment_id)
    try:
        payment = payment_settle(payment_id=payment.id, status=data.status, actor=ACTOR_OPERATOR)
    except IllegalTransition as exc:
        raise _conflict(exc) from exc
    return payment_to_dict(payment)


def _conflict(exc: IllegalTransition) -> ApiError:
    return ApiError(str(exc), status=409, code=exc.code, extra={"current_status": exc.payment.status})


def webhook_signature(request: HttpRequest) -> Actor:
    """The provider authenticates by an HMAC of the raw body (apps/payments/webhooks.py), checked before parsing."""
    if not webhook_signature_valid(
        body=body_bytes(request),
        header=request.headers.get(SIGNATURE_HEADER),
        secret=settings.PAYMENT_WEBHOOK_SECRET,
        tolerance_seconds=settings.PAYMENT_WEBHOOK_TOLERANCE,
    ):
        logger.warning("payment_webhook_rejected", reason="bad_signature")
        raise ApiError("Missing or invalid webhook signature.", code="invalid_signature")
    return Actor(name="payment-provider", kind="webhook", principal=None)


@router.post(
    "/payments/webhook",
    operation_id="payment_webhook",
    auth=webhook_signature,
    summary="Provider events: a charge settled",
    description="Signed by the provider with HMAC-SHA256 over the raw body; replays change nothing.",
    **documented(
        body=True,
        ok={200: WebhookOut},
        errors={
            200: "Applied, or already applied",
            400: "a missing, stale or wrong signature (`invalid_signature`), checked before the body",
            404: "The event's charge refers to no known payment (`not_found`)",
            409: "The charge's amount or currency differs from the payment's (`charge_mismatch`), or the state "
            "machine forbids the move (`illegal_transition`, `error.current_status`)",
        },
    ),
)
def payment_webhook_view(
    request: HttpRequest,
    event: WebhookEvent,
    signature: Annotated[
        str,
        Header(
            alias=SIGNATURE_HEADER,
            min_length=1,
            description='`t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`, several v1 during '
            "a secret rotation; verified (by webhook_signature) before the body is read",
        ),
    ],
) -> dict[str, object]:
    charge = event.data.object
    payment = _payment_for_charge(charge)
    try:
        payment = payment_settle(
            payment_id=payment.id, status=charge.status, provider_payment_id=charge.id, actor=ACTOR_WEBHOOK
        )
    except IllegalTransition as exc:
        logger.warning("payment_webhook_conflict", payment_id=payment.id, current=exc.payment.status)
        raise _conflict(exc) from exc
    logger.info("payment_webhook_applied", payment_id=payment.id, status=payment.status)
    return {"payment_id": payment.id, "status": payment.status}


def _payment_for_charge(charge: WebhookCharge) -> Payment:
    """The payment a settled charge pays, found by its reference or the provider's id; a 4xx otherwise."""
    payment_id = payment_id_from_reference(charge.reference)
    payment = payment_get(payment_id=payment_id) if payment_id else None
    if payment is None and charge.id:
        payment = payment_get_by_provider_id(provider_payment_id=charge.id)
    if payment is None:
        raise ApiError("The event refers to no known payment.", status=404, code="not_found")
    if not charge_matches(payment=payment, charge=charge.model_dump()):
        logger.error("payment_webhook_mismatch", payment_id=payment.id, charge_id=charge.id)
        raise ApiError(
            "The charge's amount or currency differs from the payment's.", status=409, code="charge_mismatch"
        )
    return payment
