"""Console pages: parse the request, call one selector, shape the answer (JSON twins: apps/console/api.py)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from apps.console import selectors
from apps.console.access import console_page, console_poll, json_twin
from apps.console.live import overview_frame
from apps.console.rendering import console_render
from apps.web.errors import error_response


@never_cache
@require_GET
@json_twin("console-overview")
@console_page
def overview(request: HttpRequest) -> HttpResponse:
    range_ = request.GET.get("range", selectors.DEFAULT_RANGE)
    if range_ not in selectors.RANGES:
        return error_response(
            request,
            status=400,
            code="invalid_range",
            message=f"range must be one of {', '.join(selectors.RANGES)}",
            fields={"range": f"unknown range {range_!r}"},
        )
    data = selectors.overview_page(range_=range_)
    return console_render(request, "console/overview.html", title="Overview", data=data, ranges=selectors.RANGES)


@never_cache
@require_GET
@json_twin("console-alerts")
@console_page
def alerts(request: HttpRequest) -> HttpResponse:
    return console_render(request, "console/alerts.html", title="Alerts", data=selectors.alerts_page())


@never_cache
@require_GET
@json_twin("console-audit")
@console_page
def audit(request: HttpRequest) -> HttpResponse:
    return console_render(request, "console/audit.html", title="Audit trail", data=selectors.audit_page())


@never_cache
@require_GET
@console_poll
def live(request: HttpRequest) -> JsonResponse:
    """The socket's "ops.overview" frame, for pages whose socket is refused or down (they poll this).

    Polls let in by a remembered grant (access.console_poll) read nothing from the database.
    """
    return JsonResponse(overview_frame(), json_dumps_params={"default": str})
