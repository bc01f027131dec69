"""The one JSON error shape of ops-console's HTTP surface.

{"error": {"code": "...", "message": "...", "fields": {...}}, "correlation_id": "..."}
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse


def error_response(
    request: HttpRequest | None,
    *,
    status: int,
    code: str,
    message: str,
    fields: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JsonResponse:
    """`extra` adds machine-readable context to the error, e.g. current_status or payment_id."""
    body: dict[str, Any] = {"error": {"code": code, "message": message, **(extra or {})}}
    if fields:
        body["error"]["fields"] = fields
    body["correlation_id"] = getattr(request, "correlation_id", None)
    return JsonResponse(body, status=status, headers=headers)
