"""Hooks for `st run` against the API: the contract test's, and by hand from the repository's root.

Loaded through SCHEMATHESIS_HOOKS (tests/integration/test_api_contract.py) or
schemathesis.toml. A schema cannot say which students exist, that a payment
needs a fresh Idempotency-Key, or what the provider's secret is. So, for the
requests schemathesis generates as valid (positive) and only for those:

- POST /api/payments names a real student and course (ST_STUDENT_IDS,
  ST_COURSE_IDS, comma-separated) and a key of its own, so a valid order is
  charged (201) or refused as a conflict (409) instead of 400
  `unknown_reference` or 422 `idempotency_key_reused`, both documented and
  both tested elsewhere;
- POST /api/payments/webhook is signed with the provider's secret
  (ST_WEBHOOK_SECRET, else PAYMENT_WEBHOOK_SECRET, else `make run`'s) over the
  exact bytes sent, as the provider signs.

Invalid (negative) requests go out as generated.
"""

from __future__ import annotations

import json
import os
import uuid
import zlib
from typing import Any

import schemathesis

from apps.payments.webhooks import SIGNATURE_HEADER, webhook_sign

DEV_WEBHOOK_SECRET = "whsec-development-only"  # scripts/devstack.py, for `make run`


def _ids(name: str) -> list[int]:
    return [int(value) for value in os.environ.get(name, "").split(",") if value]


def _webhook_secret() -> str:
    return os.environ.get("ST_WEBHOOK_SECRET") or os.environ.get("PAYMENT_WEBHOOK_SECRET") or DEV_WEBHOOK_SECRET


def _positive(case: Any) -> bool:
    return case.meta is not None and case.meta.generation.mode.is_positive


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    if not _positive(case) or case.method != "POST" or not isinstance(case.body, dict):
        return
    if case.path == "/api/payments":
        students, courses = _ids("ST_STUDENT_IDS"), _ids("ST_COURSE_IDS")
        if students and courses:
            pick = zlib.crc32(json.dumps(case.body, sort_keys=True).encode())  # the same case, the same pair
            case.body = {
                **case.body,
                "student_id": students[pick % len(students)],
                "course_id": courses[pick % len(courses)],
            }
        case.headers = {**(case.headers or {}), "Idempotency-Key": uuid.uuid4().hex}
    elif case.path == "/api/payments/webhook":
        raw = json.dumps(case.body, allow_nan=False).encode()
        kwargs["data"] = raw
        case.headers = {**(case.headers or {}), SIGNATURE_HEADER: webhook_sign(body=raw, secret=_webhook_secret())}
