"""The payment provider's API, through the bounded HTTP client.

Every call carries the payment's idempotency key, so the provider returns the
original charge for a repeated request instead of charging again.

    POST /v1/charges                        make (or replay) the charge: provider_charge
    GET  /v1/charges?idempotency_key=<key>  read it, never make it: provider_charge_lookup;
                                            404 {"error": {"code": "charge_not_found"}} when none was made

sandbox_provider/server.py serves the same contract; tests/integration/test_reconciliation_contract.py
pins the two together.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import structlog

from apps.timeline.models import TimelineKind
from apps.timeline.recorder import subject, timeline_record
from lib.db import BIGINT_MAX
from lib.http import UpstreamError, UpstreamTimeout, UpstreamUnavailable, http_client

if TYPE_CHECKING:
    from apps.payments.models import Payment

logger = structlog.get_logger(__name__)

PROVIDER_TARGET = "payment_provider"
SETTLED_STATUSES = frozenset({"succeeded", "failed"})


class ProviderTimeout(Exception):
    """The provider did not answer in time; the charge may or may not exist."""


class ProviderUnavailable(Exception):
    """The provider could not be reached, refused, or answered with an error."""


@dataclass(frozen=True)
class ChargeResult:
    provider_payment_id: str
    status: str


REFERENCE_PREFIX = "payment:"
# The provider's error code for "no charge under this idempotency key" (any other 404 is a broken contract).
CHARGE_NOT_FOUND = "charge_not_found"


def payment_reference(payment: Payment) -> str:
    """What the provider stores with a charge and sends back in its webhooks."""
    return f"{REFERENCE_PREFIX}{payment.pk}"


def payment_id_from_reference(reference: object) -> int | None:
    """The payment id in a charge's reference ("payment:<id>"), or None."""
    if not isinstance(reference, str) or not reference.startswith(REFERENCE_PREFIX):
        return None
    digits = reference.removeprefix(REFERENCE_PREFIX)
    if not digits.isascii() or not digits.isdigit() or not 0 < int(digits) <= BIGINT_MAX:
        return None
    return int(digits)


def charge_matches(*, payment: Payment, charge: dict) -> bool:
    """True when the charge is for the payment's amount and currency (as provider_charge sent them)."""
    try:
        return Decimal(str(charge.get("amount"))) == payment.amount and charge.get("currency") == payment.currency
    except InvalidOperation:  # not a number, or a signalling NaN
        return False


def provider_charge(*, payment: Payment) -> ChargeResult:
    """POST /v1/charges for the payment. Network call, bounded by PAYMENT_TIMEOUT."""
    started, attempts = time.monotonic(), list[dict[str, Any]]()
    try:
        response = http_client(PROVIDER_TARGET).request(
            "POST",
            "/v1/charges",
            json={"amount": str(payment.amount), "currency": payment.currency, "reference": payment_reference(payment)},
            idempotency_key=payment.idempotency_key,
            on_attempt=attempts.append,
        )
    except UpstreamTimeout as exc:
        _log_call(payment, started, attempts, "timeout")
        raise ProviderTimeout("The payment provider did not answer in time.") from exc
    except (UpstreamUnavailable, UpstreamError) as exc:
        _log_call(payment, started, attempts, "unavailable")
        raise ProviderUnavailable("The payment provider is unavailable.") from exc
    body = _json_or_none(response)
    status = body.get("status") if body else None
    if response.status_code >= 300 or not body or status not in SETTLED_STATUSES or not body.get("id"):
        _log_call(payment, started, attempts, "bad_response", status_code=response.status_code)
        raise ProviderUnavailable("The payment provider gave an unexpected answer.")
    _log_call(payment, started, attempts, status)
    return ChargeResult(provider_payment_id=str(body["id"]), status=status)


def provider_charge_lookup(*, payment: Payment) -> ChargeResult | None:
    """GET /v1/charges?idempotency_key=... : the charge made for the payment, or None when none was made.

    A read: it never creates a charge. Network call, bounded by PAYMENT_TIMEOUT.
    Raises ProviderTimeout or ProviderUnavailable when the provider cannot say.
    """
    started, attempts = time.monotonic(), list[dict[str, Any]]()
    try:
        path = f"/v1/charges?{urlencode({'idempotency_key': payment.idempotency_key})}"
        response = http_client(PROVIDER_TARGET).request("GET", path, on_attempt=attempts.append)
    except UpstreamTimeout as exc:
        _log_call(payment, started, attempts, "timeout", call="lookup")
        raise ProviderTimeout("The payment provider did not answer in time.") from exc
    except (UpstreamUnavailable, UpstreamError) as exc:
        _log_call(payment, started, attempts, "unavailable", call="lookup")
        raise ProviderUnavailable("The payment provider is unavailable.") from exc
    body = _json_or_none(response) or {}
    if response.status_code == 404 and (body.get("error") or {}).get("code") == CHARGE_NOT_FOUND:
        _log_call(payment, started, attempts, "not_found", call="lookup")
        return None
    status = body.get("status")
    if response.status_code != 200 or status not in SETTLED_STATUSES or not body.get("id"):
        _log_call(payment, started, attempts, "bad_response", call="lookup", status_code=response.status_code)
        raise ProviderUnavailable("The payment provider gave an unexpected answer.")
    _log_call(payment, started, attempts, status, call="lookup")
    return ChargeResult(provider_payment_id=str(body["id"]), status=status)


def _json_or_none(response: object) -> dict | None:
    try:
        body = response.json()  # type: ignore[attr-defined]
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _log_call(payment: Payment, started: float, attempts: list[dict], outcome: str, **fields: object) -> None:
    """The log line, and the payment's timeline event (buffered: no I/O here) with every attempt."""
    duration_ms = round((time.monotonic() - started) * 1000)
    logger.info("payment_provider_call", payment_id=payment.pk, outcome=outcome, duration_ms=duration_ms, **fields)
    call = str(fields.get("call", "charge"))
    timeline_record(
        subject=subject("payment", payment.pk),
        kind=TimelineKind.PROVIDER,
        name=call,
        actor=PROVIDER_TARGET,
        detail={"outcome": outcome, "duration_ms": duration_ms, "attempts": attempts, **fields},
    )
