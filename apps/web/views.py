from __future__ import annotations

import sys

from django.http import HttpRequest, HttpResponse
from django.views.defaults import page_not_found, server_error

from apps.web.errors import error_response
from apps.web.middleware import database_error_response


def handler500(request: HttpRequest) -> HttpResponse:
    """Database outages anywhere in the stack become 503 JSON; JSON clients get JSON errors."""
    response = database_error_response(request, sys.exc_info()[1])
    if response is not None:
        return response
    if "application/json" in request.headers.get("Accept", "") or request.path.startswith("/api/"):
        return error_response(request, status=500, code="internal_error", message="An unexpected error occurred.")
    return server_error(request)


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith("/api/"):
        return error_response(request, status=404, code="not_found", message="No such endpoint.")
    return page_not_found(request, exception)
