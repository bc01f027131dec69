"""The payments API's request and response types: ninja validates with them and documents them in /api/schema.

Constraints live here once: what the schema promises is what validation
accepts (amount bounds and decimals, the accepted currencies, id ranges,
statuses), so a client that follows the schema is never refused for its shape.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from django.conf import settings
from ninja import Schema
from pydantic import AfterValidator, ConfigDict, Field, Strict, WithJsonSchema

from apps.payments.models import PaymentStatus
from lib.db import BIGINT_MAX

# The header's alphabet and length bound are the correlation id's (lib/context.py).
IDEMPOTENCY_KEY_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
MAX_LIST_LIMIT = 200


def amount_pattern(maximum: int) -> str:
    """A regex for decimal strings from 0.01 to `maximum` with at most two decimals: no sign, exponent or padding.

    ASCII digits only ([0-9], not \\d, which pydantic's regex engine reads as any Unicode digit).
    """
    digits = str(maximum)
    below = [f"[1-9][0-9]{{0,{len(digits) - 2}}}"] if len(digits) > 1 else []  # fewer digits than the maximum
    for position, digit in enumerate(digits):  # as many digits, smaller at the first that differs
        lowest = 1 if position == 0 else 0
        if int(digit) > lowest:
            rest = len(digits) - position - 1
            below.append(f"{digits[:position]}[{lowest}-{int(digit) - 1}]" + (f"[0-9]{{{rest}}}" if rest else ""))
    alternatives = [r"0\.(0[1-9]|[1-9][0-9]?)", rf"{digits}(\.00?)?"]
    if below:
        alternatives.append(rf"({'|'.join(below)})(\.[0-9]{{1,2}})?")
    return f"^({'|'.join(alternatives)})$"


CURRENCIES = tuple(settings.PAYMENT_CURRENCIES)


def _accepted_currency(value: str) -> str:
    if value not in CURRENCIES:
        raise ValueError(f"Use one of the accepted currencies: {', '.join(CURRENCIES)}.")
    return value


Id = Annotated[int, Strict(), Field(ge=1, le=BIGINT_MAX)]
Amount = Annotated[
    str,
    Field(
        pattern=amount_pattern(settings.PAYMENT_MAX_AMOUNT),
        description=f"A decimal string from 0.01 to {settings.PAYMENT_MAX_AMOUNT} (PAYMENT_MAX_AMOUNT), "
        "at most two decimals, e.g. `240.00`",
        examples=["240.00"],
    ),
]
Currency = Annotated[
    str,
    AfterValidator(_accepted_currency),
    WithJsonSchema({"type": "string", "enum": list(CURRENCIES), "description": "PAYMENT_CURRENCIES"}),
]


class PaymentCreateIn(Schema):
    model_config = ConfigDict(extra="forbid")

    student_id: Id
    course_id: Id
    amount: Amount
    currency: Currency


class PaymentStatusIn(Schema):
    model_config = ConfigDict(extra="forbid")

    status: PaymentStatus


class PaymentOut(Schema):
    id: int
    student_id: int
    course_id: int
    amount: str = Field(pattern=r"^[0-9]+\.[0-9]{2}$")
    currency: str
    status: PaymentStatus
    provider: str
    provider_payment_id: str | None
    created_at: datetime
    updated_at: datetime


class PaymentListOut(Schema):
    results: list[PaymentOut]


class WebhookCharge(Schema):
    """The provider's charge; it sends more fields than these, which are ignored."""

    model_config = ConfigDict(extra="allow")

    status: Literal["succeeded", "failed"]
    # The column's bound, and no NUL (PostgreSQL text cannot hold it): either would be a 500 at the lookup.
    id: str | None = Field(None, max_length=128, pattern=r"^[^\x00]*$", description="The provider's charge id")
    reference: str | None = Field(None, description="`payment:<id>` as the console sent it", examples=["payment:42"])
    amount: str | None = None
    currency: str | None = None


class WebhookData(Schema):
    model_config = ConfigDict(extra="allow")

    object: WebhookCharge


class WebhookEvent(Schema):
    """{"id", "type", "created", "data": {"object": <charge>}} as apps/payments/webhooks.py reads it."""

    model_config = ConfigDict(extra="allow")

    data: WebhookData


class WebhookOut(Schema):
    payment_id: int
    status: PaymentStatus
