"""Provider webhook signatures: HMAC-SHA256 over "<timestamp>.<raw body>".

Header: X-Sandbox-Signature: t=<unix seconds>,v1=<hex digest>. A signature
older than the tolerance is refused, so a captured request cannot be replayed
later; a replay inside the window is harmless because settling is idempotent.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Sandbox-Signature"


def webhook_sign(*, body: bytes, secret: str, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def webhook_signature_valid(*, body: bytes, header: str | None, secret: str, tolerance_seconds: int) -> bool:
    if not header or not secret:
        return False
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    timestamp, signature = parts.get("t", ""), parts.get("v1", "")
    if not timestamp.isdigit() or not signature:
        return False
    if abs(time.time() - int(timestamp)) > tolerance_seconds:
        return False
    expected = webhook_sign(body=body, secret=secret, timestamp=int(timestamp)).split("v1=", 1)[1]
    return hmac.compare_digest(expected, signature)
