"""The payment timeline pages (/ops/payments, /ops/payments/<id>; JSON twins: apps/console/api.py)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db import OperationalError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from apps.console.access import console_page, json_twin
from apps.console.rendering import console_context
from apps.console.timeline import payment_search_page
from apps.telemetry import selectors as telemetry
from apps.timeline.selectors import QUERY_MAX, payment_timeline

EVENTS_FRAGMENT = "console/_timeline_events.html"


def _render(request: HttpRequest, template: str, title: str, data: dict[str, Any], status: int = 200) -> HttpResponse:
    context = {
        **console_context(request, title=title),
        "live_interval": settings.CONSOLE_LIVE_INTERVAL,
        "overview": telemetry.console_overview(),
        "query_max": QUERY_MAX,
        **data,
    }
    return render(request, template, context, status=status)


def _problem(request: HttpRequest, *, status: int, message: str, query: str = "") -> HttpResponse:
    """The search page saying what went wrong, in words, with the status."""
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
        message="The timeline's read took too long; try again.",
        query=query,
    )


@never_cache
@require_GET
@json_twin("console-payments")
@console_page
def payment_search(request: HttpRequest) -> HttpResponse:
    """?q= a payment id, provider payment id, idempotency key or correlation id; one match opens its timeline."""
    query = request.GET.get("q", "")
    try:
        data = payment_search_page(query=query)
    except ValueError as exc:
        return _problem(request, status=400, message=str(exc), query=query)
    except OperationalError:
        return _timed_out(request, query)
    if data["results"] is not None and len(data["results"]) == 1:
        return redirect(f"{data['results'][0]['url']}?{urlencode({'q': query.strip()})}")
    return _render(request, "console/payments.html", "Payments", data)


@never_cache
@require_GET
@json_twin("console-payment")
@console_page
def payment(request: HttpRequest, payment_id: int) -> HttpResponse:
    try:
        timeline = payment_timeline(payment_id=payment_id)
    except OperationalError:
        return _timed_out(request)
    if timeline is None:
        return _problem(request, status=404, message=f"No payment {payment_id}.", query=str(payment_id))
    if request.GET.get("fragment") == "events":
        # What the page polls while the payment moves: the events region, rendered by the page's own template.
        return HttpResponse(render_to_string(EVENTS_FRAGMENT, timeline, request=request))
    return _render(request, "console/payment_timeline.html", f"Payment {payment_id}", {"timeline": timeline})
