"""Turn an unreachable or exhausted database into a clear 503, never a 500 page."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.db import OperationalError
from django.http import HttpRequest, HttpResponse
from psycopg.errors import QueryCanceled
from psycopg_pool import PoolTimeout

from apps.web.errors import error_response

logger = structlog.get_logger(__name__)

RETRY_AFTER_SECONDS = 5


class HybridMiddleware:
    """Runs natively in sync and async stacks: subclasses write sync_call and __acall__.

    Our outermost middlewares are async-capable so that, under ASGI, a request
    switches to a thread once, below them.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if self.is_async:
            return self.__acall__(request)
        return self.sync_call(request)

    def sync_call(self, request: HttpRequest) -> HttpResponse:
        raise NotImplementedError

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        raise NotImplementedError


def database_error_response(request: HttpRequest, exception: BaseException | None) -> HttpResponse | None:
    """A 503/504 JSON response for an unreachable, exhausted or timed-out database; None for anything else."""
    if not isinstance(exception, OperationalError):
        return None
    if isinstance(exception.__cause__, QueryCanceled):
        logger.warning("db_statement_timeout", path=request.path)
        return error_response(
            request,
            status=504,
            code="db_statement_timeout",
            message="A database query took longer than its time limit.",
        )
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if isinstance(exception.__cause__, PoolTimeout):
        logger.warning("db_pool_exhausted", path=request.path)
        return error_response(
            request,
            status=503,
            code="db_pool_exhausted",
            message="All database connections are busy; retry shortly.",
            headers=headers,
        )
    logger.warning("db_unavailable", path=request.path, error_class=type(exception.__cause__ or exception).__name__)
    return error_response(
        request,
        status=503,
        code="db_unavailable",
        message="The database is unavailable; retry shortly.",
        headers=headers,
    )


class DatabaseUnavailableMiddleware:
    """Catches database errors raised by views; handler500 catches those raised in middleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        return database_error_response(request, exception)
