"""Correlation ids: one id follows a piece of work through HTTP, Celery, WebSockets and logs."""

from __future__ import annotations

from typing import Any

import structlog
from django.http import HttpRequest, HttpResponse

from apps.web.middleware import HybridMiddleware
from lib.context import (
    CORRELATION_HEADER,
    new_correlation_id,
    reset_correlation_id,
    set_correlation_id,
    valid_correlation_id,
)

# Celery's own `correlation_id` is the task id; ours travels under this header.
CELERY_HEADER = "x_correlation_id"


def correlation_id_from(request: HttpRequest) -> str:
    """The caller's id when it is well-formed; a fresh one otherwise (a bad id is never echoed)."""
    supplied = request.headers.get(CORRELATION_HEADER) or request.headers.get("Correlation-Id")
    return valid_correlation_id(supplied) or new_correlation_id()


class CorrelationIdMiddleware(HybridMiddleware):
    """Outermost, so every log line and error response of the request carries the id."""

    def sync_call(self, request: HttpRequest) -> HttpResponse:
        correlation_id = self._start(request)
        token = set_correlation_id(correlation_id)
        with structlog.contextvars.bound_contextvars(correlation_id=correlation_id):
            try:
                response = self.get_response(request)
            finally:
                reset_correlation_id(token)
        response[CORRELATION_HEADER] = correlation_id
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        correlation_id = self._start(request)
        token = set_correlation_id(correlation_id)
        with structlog.contextvars.bound_contextvars(correlation_id=correlation_id):
            try:
                response = await self.get_response(request)
            finally:
                reset_correlation_id(token)
        response[CORRELATION_HEADER] = correlation_id
        return response

    @staticmethod
    def _start(request: HttpRequest) -> str:
        correlation_id = correlation_id_from(request)
        request.correlation_id = correlation_id  # type: ignore[attr-defined]
        return correlation_id


def celery_add_correlation_header(headers: dict[str, Any] | None = None, **_: Any) -> None:
    """before_task_publish: stamp the current correlation id on the outgoing task."""
    from lib.context import get_correlation_id

    correlation_id = get_correlation_id()
    if headers is not None and correlation_id:
        headers[CELERY_HEADER] = correlation_id


def celery_bind_correlation_id(task: Any = None, **_: Any) -> None:
    """task_prerun: re-bind the id in the worker, so its log lines carry it."""
    correlation_id = valid_correlation_id(getattr(task.request, CELERY_HEADER, None)) or new_correlation_id()
    set_correlation_id(correlation_id)
    structlog.contextvars.bind_contextvars(correlation_id=correlation_id, task=task.name, task_id=task.request.id)


def celery_unbind_correlation_id(**_: Any) -> None:
    """task_postrun: the worker thread moves on to unrelated work."""
    set_correlation_id(None)
    structlog.contextvars.unbind_contextvars("correlation_id", "task", "task_id")
