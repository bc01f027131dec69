"""Webhook signatures of the sandbox provider, like a real provider's (pure Python, stdlib only).

    X-Sandbox-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>

A header may carry several v1 values (a provider rotating its secret); any match
is accepted. The console verifies with apps/payments/webhooks.py; a test keeps
the two in agreement.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Sandbox-Signature"
DEFAULT_TOLERANCE_S = 300


def sign(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """The header value for `body` signed with `secret` at `timestamp` (default: now)."""
    timestamp = int(time.time()) if timestamp is None else int(timestamp)
    return f"t={timestamp},v1={_digest(body, secret, timestamp)}"


def verify(
    body: bytes, header: str | None, secret: str, tolerance_s: float = DEFAULT_TOLERANCE_S, *, now: float | None = None
) -> bool:
    """True if `header` signs `body` with `secret` and is no older (or newer) than tolerance_s."""
    if not header or not secret:
        return False
    timestamp, signatures = _parse(header)
    if timestamp is None or not signatures:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        return False
    expected = _digest(body, secret, timestamp)
    return any(hmac.compare_digest(expected, signature) for signature in signatures)


def _digest(body: bytes, secret: str, timestamp: int) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def _parse(header: str) -> tuple[int | None, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value)
    return timestamp, signatures
