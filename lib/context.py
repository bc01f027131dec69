"""Per-request context that downstream calls read: correlation id and deadline.

Set by middleware (HTTP), task signals (Celery) and consumers (WebSockets);
read by logging, the HTTP client, the Redis helpers and the database wrapper.
contextvars keep it correct under threads and asyncio alike.
"""

from __future__ import annotations

import re
import time
import uuid
from contextvars import ContextVar

CORRELATION_HEADER = "X-Correlation-ID"
_VALID_CORRELATION_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

_correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)
_deadline: ContextVar[float | None] = ContextVar("deadline", default=None)


def new_correlation_id() -> str:
    return uuid.uuid4().hex


def valid_correlation_id(value: str | None) -> str | None:
    """The value if it is a safe correlation id (<= 128 of [A-Za-z0-9._:-]), else None."""
    if value and _VALID_CORRELATION_ID.match(value):
        return value
    return None


def get_correlation_id() -> str | None:
    return _correlation_id.get()


def set_correlation_id(value: str | None) -> object:
    return _correlation_id.set(value)


def reset_correlation_id(token: object) -> None:
    _correlation_id.reset(token)  # type: ignore[arg-type]


def correlation_headers() -> dict[str, str]:
    """Headers that carry the current correlation id to another service."""
    correlation_id = _correlation_id.get()
    return {CORRELATION_HEADER: correlation_id} if correlation_id else {}


def set_deadline(seconds_from_now: float | None) -> object:
    return _deadline.set(None if seconds_from_now is None else time.monotonic() + seconds_from_now)


def reset_deadline(token: object) -> None:
    _deadline.reset(token)  # type: ignore[arg-type]


def remaining_seconds() -> float | None:
    """Seconds left before the current request's deadline; None outside a request."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


def bounded_timeout(timeout: float) -> float:
    """`timeout`, capped by what is left of the request's budget (never below 1 ms)."""
    remaining = remaining_seconds()
    if remaining is None:
        return timeout
    return max(0.001, min(timeout, remaining))
