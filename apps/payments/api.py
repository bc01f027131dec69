"""The payments JSON API. Thin: parse, call one service or selector, shape the answer."""

from __future__ import annotations

from decimal import Decimal

import structlog
from django import forms
from django.conf import settings
from django.http import HttpRequest, JsonResponse

from apps.payments.models import Payment, PaymentStatus
from apps.payments.provider import ProviderTimeout, ProviderUnavailable, charge_matches, payment_id_from_reference
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
from apps.payments.webhooks import SIGNATURE_HEADER, webhook_charge, webhook_signature_valid
from apps.web.api import ApiError, api_endpoint, body_bytes, json_loads, json_object, validated
from lib.context import valid_correlation_id
from lib.db import BIGINT_MAX

logger = structlog.get_logger(__name__)

MAX_LIST_LIMIT = 200


class PaymentCreateForm(forms.Form):
    student_id = forms.IntegerField(min_value=1, max_value=BIGINT_MAX)
    course_id = forms.IntegerField(min_value=1, max_value=BIGINT_MAX)
    amount = forms.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0.01"))
    currency = forms.CharField(strip=False)

    def clean_amount(self) -> Decimal:
        amount = self.cleaned_data["amount"]
        if amount > settings.PAYMENT_MAX_AMOUNT:
            raise forms.ValidationError(f"Ensure this value is less than or equal to {settings.PAYMENT_MAX_AMOUNT}.")
        return amount

    def clean_currency(self) -> str:
        currency = self.cleaned_data["currency"]
        if currency not in settings.PAYMENT_CURRENCIES:
            raise forms.ValidationError(
                f"Use one of the accepted currencies: {', '.join(settings.PAYMENT_CURRENCIES)}."
            )
        return currency


class PaymentListForm(forms.Form):
    status = forms.ChoiceField(choices=PaymentStatus.choices)
    limit = forms.IntegerField(min_value=1, max_value=MAX_LIST_LIMIT, required=False)


class PaymentStatusForm(forms.Form):
    status = forms.ChoiceField(choices=PaymentStatus.choices)


def _idempotency_key(request: HttpRequest) -> str:
    key = request.headers.get("Idempotency-Key")
    if not key:
        raise ApiError(
            "An Idempotency-Key header is required.",
            code="idempotency_key_required",
            fields={"Idempotency-Key": ["This header is required."]},
        )
    if not valid_correlation_id(key):  # same alphabet and length bound as correlation ids
        raise ApiError(
            "The Idempotency-Key must be 1-128 characters of A-Z a-z 0-9 . _ : -",
            code="idempotency_key_invalid",
            fields={"Idempotency-Key": ["Invalid format."]},
        )
    return key


def _payment_or_404(payment_id: int) -> Payment:
    payment = payment_get(payment_id=payment_id) if payment_id <= BIGINT_MAX else None
    if payment is None:
        raise ApiError("No such payment.", status=404, code="not_found")
    return payment


@api_endpoint(methods=("POST",), scope="payments:write")
def payment_create_view(request: HttpRequest) -> JsonResponse:
    key = _idempotency_key(request)
    data = validated(PaymentCreateForm, json_object(request))
    payment_request = PaymentRequest(idempotency_key=key, **data)
    try:
        payment, created = payment_create(request=payment_request)
    except UnknownReference as exc:
        raise ApiError(str(exc), code=exc.code, fields={exc.field: [str(exc)]}) from exc
    except IdempotencyKeyReused as exc:
        raise ApiError(str(exc), status=422, code=exc.code) from exc
    except SettlementDeferred as exc:
        # Charged at the provider: an accepted answer, never a 5xx; the webhook or reconciliation settles it.
        return JsonResponse(payment_to_dict(exc.payment), status=202)
    except CoursePaymentConflict as exc:
        raise ApiError(str(exc), status=409, code=exc.code, extra=exc.context) from exc
    except ProviderTimeout as exc:
        raise _provider_error(key, 504, "provider_timeout", str(exc)) from exc
    except ProviderUnavailable as exc:
        raise _provider_error(key, 502, "provider_unavailable", str(exc)) from exc
    return JsonResponse(payment_to_dict(payment), status=201 if created else 200)


def _provider_error(key: str, status: int, code: str, message: str) -> ApiError:
    payment = payment_get_by_idempotency_key(idempotency_key=key)
    return ApiError(
        f"{message} The payment stays pending and will be reconciled; retry with the same Idempotency-Key.",
        status=status,
        code=code,
        extra={"payment_id": payment.id, "payment_status": payment.status} if payment else None,
    )


@api_endpoint(methods=("GET",), scope="payments:read")
def payment_detail_view(request: HttpRequest, payment_id: int) -> JsonResponse:
    return JsonResponse(payment_to_dict(_payment_or_404(payment_id)))


@api_endpoint(methods=("GET",), scope="payments:read")
def student_payment_list_view(request: HttpRequest, student_id: int) -> JsonResponse:
    data = validated(PaymentListForm, request.GET.dict())
    rows = payment_list_for_student_cached(student_id=student_id, status=data["status"], limit=data["limit"] or 50)
    return JsonResponse({"results": rows})


@api_endpoint(methods=("POST",), scope="payments:write")
def payment_status_view(request: HttpRequest, payment_id: int) -> JsonResponse:
    """Operator transition (e.g. mark refunded); the state machine decides."""
    data = validated(PaymentStatusForm, json_object(request))
    payment = _payment_or_404(payment_id)
    try:
        payment = payment_settle(payment_id=payment.id, status=data["status"], actor=ACTOR_OPERATOR)
    except IllegalTransition as exc:
        raise _conflict(exc) from exc
    return JsonResponse(payment_to_dict(payment))


def _conflict(exc: IllegalTransition) -> ApiError:
    return ApiError(str(exc), status=409, code=exc.code, extra={"current_status": exc.payment.status})


@api_endpoint(methods=("POST",), authenticated=False)
def payment_webhook_view(request: HttpRequest) -> JsonResponse:
    """Provider events (apps/payments/webhooks.py), authenticated by HMAC signature over the raw body."""
    raw = body_bytes(request)
    if not webhook_signature_valid(
        body=raw,
        header=request.headers.get(SIGNATURE_HEADER),
        secret=settings.PAYMENT_WEBHOOK_SECRET,
        tolerance_seconds=settings.PAYMENT_WEBHOOK_TOLERANCE,
    ):
        logger.warning("payment_webhook_rejected", reason="bad_signature")
        raise ApiError("Missing or invalid webhook signature.", code="invalid_signature")
    charge = _settled_charge(json_loads(raw))
    payment = _payment_for_charge(charge)
    try:
        payment = payment_settle(
            payment_id=payment.id, status=charge["status"], provider_payment_id=charge.get("id"), actor=ACTOR_WEBHOOK
        )
    except IllegalTransition as exc:
        logger.warning("payment_webhook_conflict", payment_id=payment.id, current=exc.payment.status)
        raise _conflict(exc) from exc
    logger.info("payment_webhook_applied", payment_id=payment.id, status=payment.status)
    return JsonResponse({"payment_id": payment.id, "status": payment.status})


def _settled_charge(event: object) -> dict:
    charge = webhook_charge(event)
    if charge is None or charge.get("status") not in ("succeeded", "failed"):
        raise ApiError("The event carries no settled charge under data.object.", code="invalid_event")
    return charge


def _payment_for_charge(charge: dict) -> Payment:
    """The payment a settled charge pays, found by its reference or the provider's id; a 4xx otherwise."""
    payment_id = payment_id_from_reference(charge.get("reference"))
    payment = payment_get(payment_id=payment_id) if payment_id else None
    if payment is None and charge.get("id"):
        payment = payment_get_by_provider_id(provider_payment_id=str(charge["id"]))
    if payment is None:
        raise ApiError("The event refers to no known payment.", status=404, code="not_found")
    if not charge_matches(payment=payment, charge=charge):
        logger.error("payment_webhook_mismatch", payment_id=payment.id, charge_id=charge.get("id"))
        raise ApiError(
            "The charge's amount or currency differs from the payment's.", status=409, code="charge_mismatch"
        )
    return payment
