"""The realtime page (JSON twin: apps/console/api.py)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from apps.console.access import console_page, json_twin
from apps.console.realtime import realtime_page
from apps.console.rendering import console_render


@never_cache
@require_GET
@json_twin("console-realtime")
@console_page
def realtime(request: HttpRequest) -> HttpResponse:
    data = realtime_page()
    if request.GET.get("format") == "fragment":
        return HttpResponse(render_to_string("console/_realtime_body.html", data, request=request))
    return console_render(request, "console/realtime.html", title="Realtime", data=data)
