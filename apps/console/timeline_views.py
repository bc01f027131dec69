"""The payment timeline pages (/ops/payments, /ops/payments/<id>) and their JSON twins: parse, select, shape."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin
from django.db import OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from apps.console.access import console_page, wants_json
from apps.telemetry import selectors as telemetry
from apps.timeline.selectors import QUERY_MAX, payment_timeline, timeline_find_payments
from apps.web.errors import error_response

EVENTS_FRAGMENT = "console/_timeline_events.html"


def _render(request: HttpRequest, template: str, title: str, data: dict[str, Any], status: int = 200) -> HttpResponse:
    if wants_json(request):
        return JsonResponse(data, status=status, json_dumps_params={"default": str})
    context = {
        **admin.site.each_context(request),
        "is_nav_sidebar_enabled": False,
        "title": title,
        "live_interval": settings.CONSOLE_LIVE_INTERVAL,
        "overview": telemetry.console_overview(),
        "query_max": QUERY_MAX,
        **data,
    }
    return render(request, template, context, status=status)


def _problem(request: HttpRequest, *, status: int, code: str, message: str, query: str = "") -> HttpResponse:
    """A JSON error for the twin; the search page saying it in words for a person."""
    if wants_json(request):
        return error_response(
            request,
            status=status,
            code=code,
            message=message,
            fields={"q": message} if code == "invalid_query" else None,
        )
    return _render(
        request,
        "console/payments.html",
        "Payments",
        {"query": query, "results": None, "problem": message},
        status=status,
    )


def _timed_out(request: HttpRequest, query: str = "") -> HttpResponse:
    return _problem(
        request,
        status=503,
        code="timeline_timeout",
        message="The timeline's read took too long; try again.",
        query=query,
    )


@never_cache
@require_GET
@console_page
def payment_search(request: HttpRequest) -> HttpResponse:
    """?q= a payment id, provider payment id, idempotency key or correlation id; one match opens its timeline."""
    query = request.GET.get("q", "")
    data: dict[str, Any] = {"query": query, "results": None}
    if query.strip():
        try:
            found = timeline_find_payments(query=query)
        except ValueError as exc:
            return _problem(request, status=400, code="invalid_query", message=str(exc), query=query)
        except OperationalError:
            return _timed_out(request, query)
        data["results"] = [{"payment_id": pid, "url": reverse("console:payment", args=[pid])} for pid in found]
        if len(found) == 1 and not wants_json(request):
            return redirect(f"{reverse('console:payment', args=[found[0]])}?{urlencode({'q': query.strip()})}")
    return _render(request, "console/payments.html", "Payments", data)


@never_cache
@require_GET
@console_page
def payment(request: HttpRequest, payment_id: int) -> HttpResponse:
    try:
        timeline = payment_timeline(payment_id=payment_id)
    except OperationalError:
        return _timed_out(request)
    if timeline is None:
        return _problem(
            request, status=404, code="not_found", message=f"No payment {payment_id}.", query=str(payment_id)
        )
    if request.GET.get("fragment") == "events":
        # What the page polls while the payment moves: the events region, rendered by the page's own template.
        return HttpResponse(render_to_string(EVENTS_FRAGMENT, timeline, request=request))
    return _render(request, "console/payment_timeline.html", f"Payment {payment_id}", {"timeline": timeline})
