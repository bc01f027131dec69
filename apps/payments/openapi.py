"""OpenAPI 3.1 description of the JSON API, served at /api/schema.

Written by hand next to the views it describes; tests check that the schema
and the views agree (every path answers, every documented field is accepted).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import cache_control

from apps.payments.models import PaymentStatus

_ERROR = {
    "type": "object",
    "required": ["error", "correlation_id"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
            },
        },
        "correlation_id": {"type": ["string", "null"]},
    },
}

_PAYMENT = {
    "type": "object",
    "required": ["id", "student_id", "course_id", "amount", "currency", "status", "created_at", "updated_at"],
    "properties": {
        "id": {"type": "integer"},
        "student_id": {"type": "integer"},
        "course_id": {"type": "integer"},
        "amount": {"type": "string", "pattern": r"^\d+\.\d{2}$"},
        "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
        "status": {"type": "string", "enum": PaymentStatus.values},
        "provider": {"type": "string"},
        "provider_payment_id": {"type": ["string", "null"]},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
    },
}

_PAYMENT_CREATE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["student_id", "course_id", "amount", "currency"],
    "properties": {
        "student_id": {"type": "integer", "minimum": 1},
        "course_id": {"type": "integer", "minimum": 1},
        "amount": {"type": "string", "pattern": r"^\d{1,10}(\.\d{1,2})?$", "description": "Decimal, > 0"},
        "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
    },
}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _payment(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Payment"}}},
    }


_COMMON_ERRORS = {
    "401": _error("Missing, unknown (unauthenticated), expired (token_expired) or revoked (token_revoked) token"),
    "403": _error("The token lacks the operation's x-scope (insufficient_scope), or the staff session its permission"),
    "429": _error("Rate limited; see Retry-After"),
    "503": _error("Database unavailable or busy; see Retry-After"),
    "504": _error("The request's deadline passed"),
}

SCHEMA: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "ops-console API", "version": "1"},
    "components": {
        "securitySchemes": {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "A named API client's token; each operation names the scope it needs as x-scope.",
            }
        },
        "schemas": {"Error": _ERROR, "Payment": _PAYMENT, "PaymentCreate": _PAYMENT_CREATE},
    },
    "security": [{"bearer": []}],
    "paths": {
        "/api/payments": {
            "post": {
                "operationId": "payment_create",
                "x-scope": "payments:write",
                "summary": "Create and charge a payment, once per Idempotency-Key",
                "parameters": [
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": True,
                        "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"},
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PaymentCreate"}}},
                },
                "responses": {
                    "201": _payment("Created and charged"),
                    "200": _payment("The payment this Idempotency-Key already created"),
                    "400": _error("Invalid input, missing Idempotency-Key or unknown student/course"),
                    "415": _error("Body is not application/json"),
                    "422": _error("Idempotency-Key reused for a different payment"),
                    "502": _error("Provider unavailable; the payment stays pending"),
                    **_COMMON_ERRORS,
                },
            }
        },
        "/api/payments/{payment_id}": {
            "get": {
                "operationId": "payment_detail",
                "x-scope": "payments:read",
                "parameters": [{"name": "payment_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "responses": {"200": _payment("The payment"), "404": _error("No such payment"), **_COMMON_ERRORS},
            }
        },
        "/api/payments/{payment_id}/status": {
            "post": {
                "operationId": "payment_status",
                "x-scope": "payments:write",
                "summary": "Move a payment through its state machine",
                "parameters": [{"name": "payment_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["status"],
                                "properties": {"status": {"type": "string", "enum": PaymentStatus.values}},
                            }
                        }
                    },
                },
                "responses": {
                    "200": _payment("Moved, or already there"),
                    "400": _error("Invalid input"),
                    "404": _error("No such payment"),
                    "409": _error("Illegal transition; error.current_status names the state"),
                    **_COMMON_ERRORS,
                },
            }
        },
        "/api/students/{student_id}/payments": {
            "get": {
                "operationId": "student_payment_list",
                "x-scope": "payments:read",
                "summary": "A student's payments in one status, newest first",
                "parameters": [
                    {"name": "student_id", "in": "path", "required": True, "schema": {"type": "integer"}},
                    {"name": "status", "in": "query", "required": True, "schema": {"enum": PaymentStatus.values}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
                ],
                "responses": {
                    "200": {
                        "description": "Payments",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "results": {"type": "array", "items": {"$ref": "#/components/schemas/Payment"}}
                                    },
                                }
                            }
                        },
                    },
                    "400": _error("Invalid filter"),
                    **_COMMON_ERRORS,
                },
            }
        },
        "/api/payments/webhook": {
            "post": {
                "operationId": "payment_webhook",
                "summary": "Provider events, signed with HMAC-SHA256 (X-Sandbox-Signature: t=…,v1=…)",
                "security": [],
                "responses": {
                    "200": {"description": "Applied, or already applied"},
                    "400": _error("Bad signature or malformed event"),
                    "404": _error("Unknown payment"),
                    "409": _error("Illegal transition"),
                },
            }
        },
    },
}


@cache_control(max_age=300, public=True)
def schema_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse(SCHEMA)
