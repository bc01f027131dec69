"""JSON API plumbing: authentication, body parsing and errors in one shape.

Views stay thin: they parse input, call one service or selector and shape the
output. Anything that goes wrong is an ApiError, rendered by `api_endpoint`
as {"error": {"code", "message", "fields"}, "correlation_id"}.
"""

from __future__ import annotations

import functools
import hmac
import json
from collections.abc import Callable
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from apps.core.errors import error_response

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class ApiError(Exception):
    """An error the client can act on; rendered with its status and code."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        code: str = "bad_request",
        fields: dict[str, list[str]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.fields = fields
        self.extra = extra or {}


def _bearer_token_valid(request: HttpRequest) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return False
    # Compare against every token, in constant time each, so timing says nothing.
    matches = [hmac.compare_digest(token.encode(), known.encode()) for known in settings.API_TOKENS]
    return any(matches)


def _authenticated(request: HttpRequest) -> bool:
    """A service bearer token, or a staff session for reads (sessions would need CSRF for writes)."""
    if _bearer_token_valid(request):
        return True
    user = getattr(request, "user", None)
    return bool(user and user.is_authenticated and user.is_staff and request.method in SAFE_METHODS)


def api_endpoint(*, methods: tuple[str, ...], authenticated: bool = True) -> Callable[[Callable[..., Any]], Any]:
    """Method check, authentication and ApiError rendering for a JSON view.

    CSRF is exempt because writes authenticate with a bearer token, never a cookie.
    """

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                return error_response(
                    request,
                    status=405,
                    code="method_not_allowed",
                    message=f"Use {', '.join(methods)}.",
                    headers={"Allow": ", ".join(methods)},
                )
            if authenticated and not _authenticated(request):
                return error_response(
                    request,
                    status=401,
                    code="unauthenticated",
                    message="Send a valid API token as 'Authorization: Bearer <token>'.",
                    headers={"WWW-Authenticate": "Bearer"},
                )
            try:
                _ensure_body_fits(request)
                return view(request, *args, **kwargs)
            except ApiError as exc:
                return error_response(
                    request, status=exc.status, code=exc.code, message=exc.message, fields=exc.fields, extra=exc.extra
                )

        return wrapper

    return decorate


def _ensure_body_fits(request: HttpRequest) -> None:
    """413 for a body over API_MAX_BODY_BYTES, by its Content-Length before anything reads it."""
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if not declared.isdigit() or int(declared) > settings.API_MAX_BODY_BYTES:
        raise _body_too_large()


def _body_too_large() -> ApiError:
    limit = settings.API_MAX_BODY_BYTES
    return ApiError(
        f"The body is larger than {limit} bytes.", status=413, code="body_too_large", extra={"limit": limit}
    )


def json_loads(raw: bytes) -> Any:
    """Parse a JSON body, or a 400 naming the problem (bad syntax, bad encoding, nested too deep)."""
    try:
        return json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        raise ApiError("The body is not valid JSON.", code="invalid_json") from None
    except RecursionError:
        raise ApiError("The body's JSON is nested too deeply.", code="invalid_json") from None


def body_bytes(request: HttpRequest) -> bytes:
    """The raw body, or a 413 when it turns out larger than API_MAX_BODY_BYTES (a body sent without a length)."""
    try:
        raw = request.body
    except RequestDataTooBig:
        raise _body_too_large() from None
    if len(raw) > settings.API_MAX_BODY_BYTES:
        raise _body_too_large()
    return raw


def json_object(request: HttpRequest) -> dict[str, Any]:
    """The request body as a JSON object, or a 400/413/415 naming what is wrong."""
    if request.content_type != "application/json":
        raise ApiError("Send the body as application/json.", status=415, code="unsupported_media_type")
    body = json_loads(body_bytes(request))
    if not isinstance(body, dict):
        raise ApiError("The body must be a JSON object.", code="invalid_json")
    return body


def validated(form_class: type[forms.Form], data: dict[str, Any]) -> dict[str, Any]:
    """Cleaned data of `form_class`, or a 400 with one message list per field."""
    unknown = sorted(set(data) - set(form_class.base_fields))
    form = form_class(data=data)
    if form.is_valid() and not unknown:
        return form.cleaned_data
    fields = {name: [str(message) for message in messages] for name, messages in form.errors.items()}
    for name in unknown:
        fields[name] = ["Unknown field."]
    raise ApiError("Some fields are invalid.", code="validation_failed", fields=fields)
