"""The JSON API's plumbing on django-ninja: authentication, body limits, parsing and the one error shape.

Endpoints declare their input and output as pydantic schemas and type hints;
ninja validates with them and derives the OpenAPI document from them, so the
schema cannot drift from the code. `OpsApi` adds what ninja leaves to us:

- every refusal is {"error": {"code", "message", "fields"}, "correlation_id"}
  (apps/web/errors.py), including 404 for unmatched paths under the API and
  405 (with Allow) for a wrong method;
- a body over API_MAX_BODY_BYTES is 413 by its Content-Length before anything
  reads it, a body not declared application/json is 415, bad JSON is 400;
- authentication: a bearer token carrying the operation's scope, or, for reads,
  a staff session holding the matching Django permission (`api_auth`).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import structlog
from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ImproperlyConfigured, RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.urls import URLPattern, URLResolver, path, re_path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.openapi.views import openapi_view
from ninja.parser import Parser
from ninja.security import APIKeyCookie, HttpBearer
from pydantic import ConfigDict

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
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.fields = fields
        self.extra = extra or {}
        self.headers = headers


def _render(request: HttpRequest, exc: ApiError) -> JsonResponse:
    return error_response(
        request,
        status=exc.status,
        code=exc.code,
        message=exc.message,
        fields=exc.fields,
        extra=exc.extra,
        headers=exc.headers,
    )


# --- The error shape, as a schema ------------------------------------------------


class ErrorDetail(Schema):
    """`code` is stable and machine-readable; some errors add context (scope, current_status, payment_id, …)."""

    model_config = ConfigDict(extra="allow")

    code: str
    message: str
    fields: dict[str, list[str]] | None = None


class ErrorOut(Schema):
    error: ErrorDetail
    correlation_id: str | None


# --- Authentication -----------------------------------------------------------------


class Actor(NamedTuple):
    """Who a request acts as, for the logs; `principal` is None for a staff session."""

    name: str
    kind: str
    principal: ApiPrincipal | None


def _bearer_token(request: HttpRequest) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


_TOKEN_REFUSALS = {
    "unauthenticated": "Send a valid API token as 'Authorization: Bearer <token>'.",
    "token_expired": "This API token has expired; ask an operator for a new one.",
    "token_revoked": "This API token was revoked; ask an operator for a new one.",
}


def _unauthenticated(*, code: str, token_sent: bool) -> ApiError:
    """401; RFC 6750 marks a refused token (as opposed to none) with error="invalid_token"."""
    challenge = 'Bearer error="invalid_token"' if token_sent else "Bearer"
    return ApiError(_TOKEN_REFUSALS[code], status=401, code=code, headers={"WWW-Authenticate": challenge})


class BearerToken(HttpBearer):
    """A named API client's token (apps/apiclients) carrying the operation's scope (x-scope)."""

    openapi_description = (
        "A named API client's token. Each operation names the scope it needs as `x-scope`; "
        "401 `unauthenticated`, `token_expired` or `token_revoked`, 403 `insufficient_scope`."
    )

    def __init__(self, *, scope: str) -> None:
        if scope not in ApiScope.values:
            raise ImproperlyConfigured(f"BearerToken needs scope= one of {', '.join(ApiScope.values)}, not {scope!r}")
        self.scope = scope
        super().__init__()

    def __call__(self, request: HttpRequest) -> Actor | None:
        """None without a token (a staff session may still read); a token, when sent, is the only credential.

        Runs at most one query (and a throttled last_used_at UPDATE) for a database client.
        """
        token = _bearer_token(request)
        if token is None:
            return None
        try:
            principal = api_client_authenticate(token=token)
        except TokenRefused as exc:
            logger.warning("api_token_refused", reason=exc.code, client=exc.client_name)
            raise _unauthenticated(code=exc.code, token_sent=True) from None
        if not principal.has_scope(self.scope):
            logger.warning("api_scope_refused", scope=self.scope, actor=principal.name, actor_kind="api_client")
            raise ApiError(
                f"This API token lacks the {self.scope} scope.",
                status=403,
                code="insufficient_scope",
                extra={"scope": self.scope},
                headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{self.scope}"'},
            )
        return Actor(name=principal.name, kind="api_client", principal=principal)

    def authenticate(self, request: HttpRequest, token: str) -> Actor | None:  # pragma: no cover  (__call__ decides)
        raise NotImplementedError


class StaffSession(APIKeyCookie):
    """A staff user's console session, for reads only (writes would need CSRF), holding `permission` if given."""

    param_name = settings.SESSION_COOKIE_NAME
    openapi_description = (
        "A staff user's console session cookie; reads only (GET). The user needs the Django permission "
        "matching the operation's scope, or console.view_console for the console's twins (tag `console`, which "
        "take no token) (403 `permission_denied`); superusers have all."
    )

    def __init__(self, *, permission: str | None = None, sole: bool = False) -> None:
        """`sole`: the operation's only credential, so a request without it is told to sign in, not to send a token."""
        self.permission = permission
        self.sole = sole
        super().__init__(csrf=False)

    def __call__(self, request: HttpRequest) -> Actor | None:
        user = getattr(request, "user", None)
        if not (user and user.is_authenticated and user.is_staff and request.method in SAFE_METHODS):
            if self.sole:
                raise self._refusal(user)
            return None
        if self.permission is not None and not user.has_perm(self.permission):
            logger.warning("api_permission_refused", permission=self.permission, actor=user.get_username())
            raise ApiError(
                f"Your account lacks the {self.permission} permission.",
                status=403,
                code="permission_denied",
                extra={"permission": self.permission},
            )
        return Actor(name=user.get_username(), kind="staff", principal=None)

    @staticmethod
    def _refusal(user: Any) -> ApiError:
        """Why a sole staff session refused: none (401), or a signed-in user who is not staff (403)."""
        if user and user.is_authenticated:
            return ApiError("Staff only.", status=403, code="permission_denied")
        return ApiError(
            "Sign in as a staff user; this operation takes a console session, not an API token.",
            status=401,
            code="unauthenticated",
        )

    def authenticate(self, request: HttpRequest, key: str | None) -> Actor | None:  # pragma: no cover
        raise NotImplementedError


def api_auth(scope: str) -> list[BearerToken | StaffSession]:
    """A token with `scope`; and, where SESSION_PERMISSIONS maps the scope to a permission, a staff session."""
    permission = SESSION_PERMISSIONS.get(scope)
    session = [StaffSession(permission=permission)] if permission else []
    return [BearerToken(scope=scope), *session]


def outside_api_auth(scope: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """`api_auth(scope)` for a GET view served outside the API (e.g. /metrics), refusals in the error shape."""
    authenticators = api_auth(scope)

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                if request.method not in ("GET", "HEAD"):
                    raise ApiError("Use GET.", status=405, code="method_not_allowed", headers={"Allow": "GET, HEAD"})
                actor = next(filter(None, (authenticate(request) for authenticate in authenticators)), None)
                if actor is None:
                    raise _unauthenticated(code="unauthenticated", token_sent=False)
            except ApiError as exc:
                return _render(request, exc)
            with structlog.contextvars.bound_contextvars(actor=actor.name, actor_kind=actor.kind):
                return view(request, *args, **kwargs)

        return wrapper

    return decorate


# --- Per-operation documentation of what can go wrong ---------------------------------

# Every operation can answer these: the request's budget, the database, the rate limit, the body limit.
_ALWAYS = {
    405: "Wrong method (`method_not_allowed`); the Allow header lists the right ones",
    413: "The body is larger than API_MAX_BODY_BYTES (`body_too_large`, `error.limit`)",
    429: "Rate limited (`rate_limited`); see Retry-After",
    503: "The database is unavailable or busy (`db_unavailable`, `db_pool_exhausted`); see Retry-After",
    504: "The request's deadline passed (`deadline_exceeded`) or a query ran too long (`db_statement_timeout`)",
}
_AUTHENTICATED = {
    401: "No valid credentials (`unauthenticated`), or the token expired (`token_expired`) or was revoked "
    "(`token_revoked`); see WWW-Authenticate",
    403: "The token lacks the operation's x-scope (`insufficient_scope`, `error.scope`), or the staff session "
    "its permission (`permission_denied`, `error.permission`)",
}
_WITH_BODY = {
    400: "The body is not valid JSON or not an object (`invalid_json`), or fields are invalid "
    "(`validation_failed`, `error.fields` names each)",
    415: "The body is not declared application/json (`unsupported_media_type`)",
}
_WITHOUT_BODY = {400: "Parameters are invalid (`validation_failed`, `error.fields` names each)"}


def documented(
    *,
    ok: dict[int, Any],
    errors: dict[int, str] | None = None,
    scope: str | None = None,
    body: bool = False,
) -> dict[str, Any]:
    """ninja operation arguments: `ok` responses and every error status the operation can answer, with its codes.

    `errors` describes statuses (success ones too) and extends the descriptions of those every operation shares.
    """
    described = {**_ALWAYS, **(_WITH_BODY if body else _WITHOUT_BODY), **(_AUTHENTICATED if scope else {})}
    for status, description in (errors or {}).items():
        described[status] = f"{described[status]}; {description}" if status in described else description
    responses = {**dict.fromkeys((status for status in described if status >= 400), ErrorOut), **ok}
    extra: dict[str, Any] = {"responses": {status: {"description": text} for status, text in described.items()}}
    if scope:
        extra["x-scope"] = scope
    return {"response": responses, "openapi_extra": extra}


# --- Request bodies --------------------------------------------------------------------


def _body_too_large() -> ApiError:
    limit = settings.API_MAX_BODY_BYTES
    return ApiError(
        f"The body is larger than {limit} bytes.", status=413, code="body_too_large", extra={"limit": limit}
    )


def body_bytes(request: HttpRequest) -> bytes:
    """The raw body, or a 413 when it turns out larger than API_MAX_BODY_BYTES (a body sent without a length)."""
    try:
        raw = request.body
    except RequestDataTooBig:
        raise _body_too_large() from None
    if len(raw) > settings.API_MAX_BODY_BYTES:
        raise _body_too_large()
    return raw


def json_loads(raw: bytes) -> Any:
    """Parse a JSON body, or a 400 naming the problem (bad syntax, bad encoding, nested too deep)."""
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError("The body is not valid JSON.", code="invalid_json") from None
    except RecursionError:
        raise ApiError("The body's JSON is nested too deeply.", code="invalid_json") from None


class JsonObjectParser(Parser):
    """Bodies are JSON objects declared application/json; anything else is a 415 or 400 naming the problem."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        if request.content_type != "application/json":
            raise ApiError("Send the body as application/json.", status=415, code="unsupported_media_type")
        body = json_loads(body_bytes(request))
        if not isinstance(body, dict):
            raise ApiError("The body must be a JSON object.", code="invalid_json")
        return body


def _body_within_limit(run: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """413 for a body over API_MAX_BODY_BYTES, by its Content-Length, before authentication or parsing reads it."""

    @functools.wraps(run)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        declared = request.META.get("CONTENT_LENGTH") or "0"
        if not declared.isdigit() or int(declared) > settings.API_MAX_BODY_BYTES:
            return _render(request, _body_too_large())
        return run(request, *args, **kwargs)

    return wrapper


def _logged_as_actor(view: Callable[..., Any]) -> Callable[..., Any]:
    """Every log line the view writes names who it acts for (request.auth, set by the auth classes)."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        actor = getattr(request, "auth", None)
        if not isinstance(actor, Actor):
            return view(request, *args, **kwargs)
        with structlog.contextvars.bound_contextvars(actor=actor.name, actor_kind=actor.kind):
            return view(request, *args, **kwargs)

    return wrapper


# --- Errors in the one shape -----------------------------------------------------------

_MISSING = {"header": "This header is required.", "body": "This field is required."}


def _field_errors(errors: Iterable[dict[str, Any]]) -> dict[str, list[str]]:
    """ninja's error list -> {field: [messages]}: the field is the parameter or body property that failed."""
    fields: dict[str, list[str]] = {}
    for error in errors:
        source, *location = error["loc"]
        if source == "body":  # located under the body parameter's own name; the property follows it
            name = str(location[1]) if len(location) > 1 else "body"
        else:
            name = str(location[0]) if location else source
        if error["type"] == "missing":
            message = _MISSING.get(source, "This field is required.")
        elif error["type"] == "extra_forbidden":
            message = "Unknown field."
        else:
            message = str(error["msg"])
        fields.setdefault(name, []).append(message)
    return fields


def _validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    """400 naming each field; a path parameter out of its range names no resource, so that is a 404."""
    if any(error["loc"][0] == "path" for error in exc.errors):
        return error_response(request, status=404, code="not_found", message="No such resource.")
    return error_response(
        request,
        status=400,
        code="validation_failed",
        message="Some fields are invalid.",
        fields=_field_errors(exc.errors),
    )


def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    """ninja wraps what our parser raises ("Cannot parse request body"): answer with our error instead."""
    if isinstance(exc.__cause__, ApiError):
        return _render(request, exc.__cause__)
    return error_response(request, status=exc.status_code, code="bad_request", message=str(exc))


def _not_authenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return _render(request, _unauthenticated(code="unauthenticated", token_sent=False))


def _json_edges(view: Callable[..., Any]) -> Callable[..., Any]:
    """ninja's own 404 (the API root) and 405 (a method no operation takes) in the one error shape.

    CSRF-exempt like ninja's operations (tokens, not cookies, authenticate writes), so a POST to
    any path under the API gets this JSON answer rather than Django's HTML CSRF page.
    """

    @csrf_exempt
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            response = view(request, *args, **kwargs)
        except Http404:
            return not_found(request)
        if isinstance(response, HttpResponseNotAllowed):
            allowed = response["Allow"]
            return error_response(
                request,
                status=405,
                code="method_not_allowed",
                message=f"Use {allowed}.",
                headers={"Allow": allowed},
            )
        return response

    return wrapper


@csrf_exempt
def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Any path under the API that no route matches."""
    return error_response(request, status=404, code="not_found", message="No such endpoint.")


def _staff_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Anonymous users go to the login page; signed-in users who are not staff get a JSON 403."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not user.is_staff:
            return error_response(request, status=403, code="permission_denied", message="Staff only.")
        return view(request, *args, **kwargs)

    return wrapper


class OpsApi(NinjaAPI):
    """A NinjaAPI that answers every path under its prefix in our error shape, with a staff-only docs page.

    The OpenAPI document is served at <prefix>schema (public, like any API
    description) and Swagger UI, from ninja's bundled static files, at
    <prefix>docs (staff only).
    """

    def __init__(self, *, urls_namespace: str = "api", **kwargs: Any) -> None:
        super().__init__(
            title="ops-console API",
            version="1",
            description=(
                'Every error is `{"error": {"code", "message", "fields"}, "correlation_id"}`; '
                "each operation lists the statuses it can answer and their `error.code` values."
            ),
            openapi_url="/schema",
            docs_url=None,
            urls_namespace=urls_namespace,
            parser=JsonObjectParser(),
            **kwargs,
        )
        self.add_decorator(_body_within_limit, mode="view")
        self.add_decorator(_logged_as_actor, mode="operation")

    def set_default_exception_handlers(self) -> None:
        """Ours only: anything else propagates to Django (database outages become 503s in apps/web/middleware)."""
        handlers: dict[type[Exception], Callable[[HttpRequest, Any], HttpResponse]] = {
            ApiError: _render,
            ValidationError: _validation_error,
            AuthenticationError: _not_authenticated,
            HttpError: _http_error,
            RequestDataTooBig: lambda request, exc: _render(request, _body_too_large()),
        }
        for exc_class, handler in handlers.items():
            self.add_exception_handler(exc_class, handler)

    @property
    def urls(self) -> tuple[list[URLResolver | URLPattern], str, str]:
        patterns, app_name, namespace = super().urls
        docs = path("docs", require_safe(_staff_only(functools.partial(openapi_view, api=self))), name="openapi-view")
        for pattern in [*patterns, docs]:
            if isinstance(pattern, URLPattern):
                view = require_safe(pattern.callback) if pattern.name == "openapi-json" else pattern.callback
                pattern.callback = _json_edges(view)
        return [*patterns, docs, re_path(r"", not_found)], app_name, namespace
