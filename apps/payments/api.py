"""The payments JSON API. Thin: parse, call one service or selector, shape the answer."""

from __future__ import annotations

import json
from decimal import Decimal

import structlog
from django import forms
from django.conf import settings
from django.http import HttpRequest, JsonResponse

from apps.core.api import ApiError, api_endpoint, json_object, validated
from apps.core.context import valid_correlation_id
from apps.payments.models import Payment, PaymentStatus
from apps.payments.provider import ProviderTimeout, ProviderUnavailable
from apps.payments.selectors import payment_list_for_student_cached, payment_to_dict
from apps.payments.services import (
    IdempotencyKeyReused,
    IllegalTransition,
    PaymentRequest,
    UnknownReference,
    payment_create,
    payment_settle,
)
from apps.payments.webhooks import SIGNATURE_HEADER, webhook_signature_valid

logger = structlog.get_logger(__name__)

MAX_LIST_LIMIT = 200


class PaymentCreateForm(forms.Form):
    student_id = forms.IntegerField(min_value=1)
    course_id = forms.IntegerField(min_value=1)
    amount = forms.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0.01"))
    currency = forms.RegexField(regex=r"^[A-Z]{3}$", error_messages={"invalid": "Use a 3-letter ISO 4217 code."})


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
    payment = Payment.objects.filter(id=payment_id).first()
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
    except ProviderTimeout as exc:
        raise _provider_error(key, 504, "provider_timeout", str(exc)) from exc
    except ProviderUnavailable as exc:
        raise _provider_error(key, 502, "provider_unavailable", str(exc)) from exc
    return JsonResponse(payment_to_dict(payment), status=201 if created else 200)


def _provider_error(key: str, status: int, code: str, message: str) -> ApiError:
    payment = Payment.objects.get(idempotency_key=key)
    return ApiError(
        f"{message} The payment stays pending and will be reconciled; retry with the same Idempotency-Key.",
        status=status,
        code=code,
        extra={"payment_id": payment.id, "payment_status": payment.status},
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
        payment = payment_settle(payment_id=payment.id, status=data["status"])
    except IllegalTransition as exc:
        raise _conflict(exc) from exc
    return JsonResponse(payment_to_dict(payment))


def _conflict(exc: IllegalTransition) -> ApiError:
    return ApiError(str(exc), status=409, code=exc.code, extra={"current_status": exc.payment.status})


@api_endpoint(methods=("POST",), authenticated=False)
def payment_webhook_view(request: HttpRequest) -> JsonResponse:
    """Provider events, authenticated by HMAC signature over the raw body."""
    if not webhook_signature_valid(
        body=request.body,
        header=request.headers.get(SIGNATURE_HEADER),
        secret=settings.PAYMENT_WEBHOOK_SECRET,
        tolerance_seconds=settings.PAYMENT_WEBHOOK_TOLERANCE,
    ):
        logger.warning("payment_webhook_rejected", reason="bad_signature")
        raise ApiError("Missing or invalid webhook signature.", code="invalid_signature")
    try:
        event = json.loads(request.body)
    except ValueError:
        raise ApiError("The body is not valid JSON.", code="invalid_json") from None
    charge = event.get("charge", event) if isinstance(event, dict) else None
    payment = _payment_for_charge(charge)
    try:
        payment = payment_settle(payment_id=payment.id, status=charge["status"], provider_payment_id=charge.get("id"))
    except IllegalTransition as exc:
        logger.warning("payment_webhook_conflict", payment_id=payment.id, current=exc.payment.status)
        raise _conflict(exc) from exc
    logger.info("payment_webhook_applied", payment_id=payment.id, status=payment.status)
    return JsonResponse({"payment_id": payment.id, "status": payment.status})


def _payment_for_charge(charge: object) -> Payment:
    if not isinstance(charge, dict) or charge.get("status") not in ("succeeded", "failed"):
        raise ApiError("The event names no settled charge.", code="invalid_event")
    reference = str(charge.get("reference", ""))
    payment = None
    if reference.startswith("payment:") and reference.removeprefix("payment:").isdigit():
        payment = Payment.objects.filter(id=int(reference.removeprefix("payment:"))).first()
    if payment is None and charge.get("id"):
        payment = Payment.objects.filter(provider_payment_id=str(charge["id"])).first()
    if payment is None:
        raise ApiError("The event refers to no known payment.", status=404, code="not_found")
    return payment
