"""Request deadlines: every request has a time budget, and downstream waits fit in it.

`DeadlineMiddleware` (outermost) starts the clock: REQUEST_TIMEOUT by default,
or what the view declares with `@request_deadline(seconds)`.
`DatabaseDeadlineMiddleware` caps PostgreSQL's statement_timeout by the
remaining budget for every query the request runs; the HTTP client caps its
timeouts the same way (`lib.context.bounded_timeout`). So no downstream wait
outlives the request: the wait that runs out answers 504 (db_statement_timeout,
deadline_exceeded, or the provider's timeout), and a query after the deadline
is not sent at all.

Django runs a middleware in async mode only if every middleware below it can;
several of ours and Django's (CSRF, sessions, auth, messages) are sync-only, so
under ASGI the whole stack runs in sync mode, in a thread per request, and the
budget is enforced by those caps. `__acall__` (a 504 the moment the budget
runs out, whatever the view waits on) serves an all-async stack only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
import structlog
from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve

from apps.web.errors import error_response
from apps.web.middleware import HybridMiddleware
from lib.context import remaining_seconds, reset_deadline, set_deadline

logger = structlog.get_logger(__name__)

ViewT = TypeVar("ViewT", bound=Callable[..., Any])

# A capped statement_timeout is refreshed once the budget has shrunk by this
# much, so a query may outlive the deadline by at most this margin.
STATEMENT_TIMEOUT_SLACK_MS = 250


class DeadlineExceeded(Exception):
    """The request's budget ran out before a downstream call could start."""


def request_deadline(seconds: float) -> Callable[[ViewT], ViewT]:
    """Give a view its own budget (aggregations 60 s, reports 120 s)."""

    def decorate(view: ViewT) -> ViewT:
        view.request_deadline = seconds  # type: ignore[attr-defined]
        return view

    return decorate


def deadline_for(request: HttpRequest) -> float:
    try:
        view = resolve(request.path_info).func
    except Resolver404:
        return settings.REQUEST_TIMEOUT
    view_class = getattr(view, "view_class", None)
    return getattr(view, "request_deadline", 0) or getattr(view_class, "request_deadline", settings.REQUEST_TIMEOUT)


def deadline_exceeded_response(request: HttpRequest, budget: float) -> HttpResponse:
    logger.warning("request_deadline_exceeded", path=request.path, budget_s=budget)
    return error_response(
        request,
        status=504,
        code="deadline_exceeded",
        message=f"The request did not complete within its {budget:g} s budget.",
    )


class DeadlineMiddleware(HybridMiddleware):
    def sync_call(self, request: HttpRequest) -> HttpResponse:
        budget = deadline_for(request)
        token = set_deadline(budget)
        try:
            return self.get_response(request)
        finally:
            reset_deadline(token)

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        budget = deadline_for(request)
        token = set_deadline(budget)
        try:
            async with asyncio.timeout(budget):
                return await self.get_response(request)
        except TimeoutError:
            return deadline_exceeded_response(request, budget)
        finally:
            reset_deadline(token)


class _StatementTimeoutCap:
    """An execute wrapper lowering statement_timeout to the remaining budget.

    Directly on PostgreSQL the cap is set for the session once and lowered as the
    budget shrinks; the middleware puts the default back at the end. Behind
    PgBouncer in transaction mode a session setting would stay on a server
    connection other clients get next, so the cap is `SET LOCAL` (is_local) and
    set before each statement inside a transaction only; a statement in
    autocommit is bounded by the role's DB_STATEMENT_TIMEOUT (docs/pgbouncer.md).
    """

    def __init__(self) -> None:
        self.applied_ms: int | None = None

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        remaining = remaining_seconds()
        if remaining is not None:
            if remaining <= 0:
                raise DeadlineExceeded
            budget_ms = max(1, int(remaining * 1000))
            if settings.DB_PGBOUNCER:
                self._cap_transaction(context, budget_ms)
            else:
                self._cap_session(context, budget_ms)
        return execute(sql, params, many, context)

    def _cap_session(self, context: dict[str, Any], budget_ms: int) -> None:
        ceiling = settings.DB_STATEMENT_TIMEOUT if self.applied_ms is None else self.applied_ms
        if ceiling - budget_ms > STATEMENT_TIMEOUT_SLACK_MS:
            # The raw cursor: going through Django's would re-enter this wrapper.
            context["cursor"].cursor.execute("SELECT set_config('statement_timeout', %s, false)", [f"{budget_ms}ms"])
            self.applied_ms = budget_ms

    @staticmethod
    def _cap_transaction(context: dict[str, Any], budget_ms: int) -> None:
        if not context["connection"].in_atomic_block:
            return
        if settings.DB_STATEMENT_TIMEOUT - budget_ms > STATEMENT_TIMEOUT_SLACK_MS:
            context["cursor"].cursor.execute("SELECT set_config('statement_timeout', %s, true)", [f"{budget_ms}ms"])


class DatabaseDeadlineMiddleware:
    """Caps every query's statement_timeout by the request's remaining budget."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        cap = _StatementTimeoutCap()
        try:
            with connection.execute_wrapper(cap):
                return self.get_response(request)
        finally:
            if cap.applied_ms is not None:
                _restore_statement_timeout()

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, DeadlineExceeded):
            return deadline_exceeded_response(request, deadline_for(request))
        return None


def _restore_statement_timeout() -> None:
    """Put the default back before the connection returns to the pool; drop it if that fails."""
    if connection.connection is None:
        return
    try:
        # On the raw connection, like the cap itself: plumbing, not one of the request's queries.
        connection.connection.execute(
            "SELECT set_config('statement_timeout', %s, false)", [f"{settings.DB_STATEMENT_TIMEOUT}ms"]
        )
    except (DatabaseError, psycopg.Error):
        logger.warning("statement_timeout_restore_failed")
        connection.connection.close()
