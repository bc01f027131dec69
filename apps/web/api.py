"""JSON API plumbing: authentication, body parsing and errors in one shape.

Views stay thin: they parse input, call one service or selector and shape the
output. Each endpoint names the scope it needs (apps.apiclients.models.ApiScope):
a bearer token must carry it, a staff session (reads only) must hold the
matching Django permission. Anything that goes wrong is an ApiError, rendered by `api_endpoint`
as {"error": {"code", "message", "fields"}, "correlation_id"}.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any, NamedTuple

import structlog
from django import forms
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from apps.apiclients.models import SESSION_PERMISSIONS, ApiScope
from apps.apiclients.services import ApiPrincipal, TokenRefused, api_client_authenticate
from apps.web.errors import error_response

logger = structlog.get_logger(__name__)

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


def _bearer_token(request: HttpRequest) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


_TOKEN_REFUSALS = {
    "unauthenticated": "Send a valid API token as 'Authorization: Bearer <token>'.",
    "token_expired": "This API token has expired; ask an operator for a new one.",
    "token_revoked": "This API token was revoked; ask an operator for a new one.",
}


def _unauthenticated(request: HttpRequest, *, code: str, token_sent: bool) -> HttpResponse:
    """401; RFC 6750 marks a refused token (as opposed to none) with error="invalid_token"."""
    challenge = 'Bearer error="invalid_token"' if token_sent else "Bearer"
    return error_response(
        request, status=401, code=code, message=_TOKEN_REFUSALS[code], headers={"WWW-Authenticate": challenge}
    )


class _Actor(NamedTuple):
    """Who a request acts as, for the logs; `principal` is None for a staff session."""

    name: str
    kind: str
    principal: ApiPrincipal | None


def _actor(request: HttpRequest) -> _Actor | HttpResponse:
    """A bearer token, or else a staff session for reads (sessions would need CSRF for writes).

    A token, when sent, is the only credential looked at. Runs at most one
    query (and a throttled last_used_at UPDATE) for a database client.
    """
    token = _bearer_token(request)
    if token is not None:
        try:
            principal = api_client_authenticate(token=token)
        except TokenRefused as exc:
            logger.warning("api_token_refused", reason=exc.code, client=exc.client_name)
            return _unauthenticated(request, code=exc.code, token_sent=True)
        return _Actor(name=principal.name, kind="api_client", principal=principal)
    user = getattr(request, "user", None)
    if user and user.is_authenticated and user.is_staff and request.method in SAFE_METHODS:
        return _Actor(name=user.get_username(), kind="staff", principal=None)
    return _unauthenticated(request, code="unauthenticated", token_sent=False)


def _forbidden(request: HttpRequest, actor: _Actor, scope: str) -> HttpResponse | None:
    """403 when a token lacks `scope`, or a staff session its Django permission (superusers have all)."""
    if actor.principal is not None:
        if actor.principal.has_scope(scope):
            return None
        logger.warning("api_scope_refused", scope=scope)
        return error_response(
            request,
            status=403,
            code="insufficient_scope",
            message=f"This API token lacks the {scope} scope.",
            extra={"scope": scope},
            headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'},
        )
    permission = SESSION_PERMISSIONS.get(scope)
    if permission is not None and request.user.has_perm(permission):
        return None
    logger.warning("api_permission_refused", scope=scope, permission=permission)
    return error_response(
        request,
        status=403,
        code="permission_denied",
        message=f"Your account lacks the {permission} permission." if permission else "Use an API token.",
        extra={"permission": permission},
    )


def _checked_scope(view: Callable[..., Any], *, scope: str | None, authenticated: bool) -> str | None:
    """An authenticated endpoint must name one of ApiScope; checked when the view module is imported."""
    if authenticated and scope not in ApiScope.values:
        raise ImproperlyConfigured(
            f"{view.__module__}.{view.__qualname__}: api_endpoint needs scope= one of {', '.join(ApiScope.values)}"
        )
    return scope


def api_endpoint(
    *, methods: tuple[str, ...], scope: str | None = None, authenticated: bool = True
) -> Callable[[Callable[..., Any]], Any]:
    """Method check, authentication, `scope` and ApiError rendering for a JSON view.

    Sets request.api_client (an ApiPrincipal, or None for a staff session) and
    binds `actor` into the log context, so every line of the request names who.
    CSRF is exempt because writes authenticate with a bearer token, never a cookie.
    """

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        required = _checked_scope(view, scope=scope, authenticated=authenticated)

        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            request.api_client = None  # type: ignore[attr-defined]
            if request.method not in methods:
                return error_response(
                    request,
                    status=405,
                    code="method_not_allowed",
                    message=f"Use {', '.join(methods)}.",
                    headers={"Allow": ", ".join(methods)},
                )
            if required is None:
                return _respond(view, request, *args, **kwargs)
            actor = _actor(request)
            if isinstance(actor, HttpResponse):
                return actor
            request.api_client = actor.principal  # type: ignore[attr-defined]
            with structlog.contextvars.bound_contextvars(actor=actor.name, actor_kind=actor.kind):
                return _forbidden(request, actor, required) or _respond(view, request, *args, **kwargs)

        wrapper.api_scope = required  # type: ignore[attr-defined]  # the OpenAPI test reads it
        return wrapper

    return decorate


def _respond(view: Callable[..., Any], request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    try:
        _ensure_body_fits(request)
        return view(request, *args, **kwargs)
    except ApiError as exc:
        return error_response(
            request, status=exc.status, code=exc.code, message=exc.message, fields=exc.fields, extra=exc.extra
        )


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
