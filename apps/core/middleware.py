"""Turn an unreachable or exhausted database into a clear 503, never a 500 page."""

from __future__ import annotations

from collections.abc import Callable

import structlog
from django.db import OperationalError
from django.http import HttpRequest, HttpResponse
from psycopg_pool import PoolTimeout

from apps.core.errors import error_response

logger = structlog.get_logger(__name__)


class DatabaseUnavailableMiddleware:
    retry_after_seconds = 5

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError):
            return None
        headers = {"Retry-After": str(self.retry_after_seconds)}
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
