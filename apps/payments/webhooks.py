"""The provider's webhook contract: the signature here, the event's shape in apps/payments/schemas.py (WebhookEvent).

    X-Sandbox-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>[,v1=...]
    {"id": "evt_...", "type": "charge.succeeded", "created": <unix>, "data": {"object": <charge>}}

A header may carry several v1 values while the provider rotates its secret:
any match is accepted. A signature older than the tolerance is refused, so a
captured request cannot be replayed later; a replay inside the window is
harmless because settling is idempotent. tests/integration/test_webhook_contract.py
pins this against the sandbox provider's own signing and delivery.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Sandbox-Signature"


def webhook_sign(*, body: bytes, secret: str, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    return f"t={timestamp},v1={_digest(body, secret, timestamp)}"


def webhook_signature_valid(*, body: bytes, header: str | None, secret: str | None, tolerance_seconds: int) -> bool:
    if not header or not secret:
        return False
    timestamp, signatures = _parse_signature(header)
    if timestamp is None or not signatures:
        return False
    if abs(time.time() - timestamp) > tolerance_seconds:
        return False
    expected = _digest(body, secret, timestamp)
    return any(hmac.compare_digest(expected, signature) for signature in signatures)


def _digest(body: bytes, secret: str, timestamp: int) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def _parse_signature(header: str) -> tuple[int | None, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value)
    return timestamp, signatures
