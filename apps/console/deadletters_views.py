"""The dead-letters page (JSON twin: apps/console/api.py) and its actions (POST, CSRF, console.replay_deadletters, audited)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from apps.console import deadletters
from apps.console.access import console_page, json_twin, wants_json
from apps.console.rendering import console_render
from apps.telemetry import selectors as telemetry
from apps.web.errors import error_response


def _bad_filter(request: HttpRequest, exc: deadletters.BadFilter) -> HttpResponse:
    return error_response(
        request, status=400, code="invalid_" + exc.field, message=str(exc), fields={exc.field: str(exc)}
    )


def may_replay(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Console staff who also hold console.replay_deadletters; others get a 403 (JSON, or the page)."""

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.has_perm(deadletters.REPLAY_PERMISSION):
            message = "Replaying and discarding dead letters needs the replay_deadletters permission."
            if wants_json(request) or request.headers.get("Accept") == "application/json":
                return error_response(request, status=403, code="forbidden", message=message)
            return render(request, "console/forbidden_action.html", {"message": message}, status=403)
        return view(request, *args, **kwargs)

    return console_page(guarded)


@never_cache
@require_GET
@json_twin("console-dead-letters")
@console_page
def dead_letters(request: HttpRequest) -> HttpResponse:
    try:
        query = deadletters.page_query(request.GET)
    except deadletters.BadFilter as exc:
        return _bad_filter(request, exc)
    data = deadletters.deadletters_page(query=query)
    if request.GET.get("format") == "fragment":
        return HttpResponse(render_to_string("console/_dead_letter_groups.html", data, request=request))
    may = request.user.has_perm(deadletters.REPLAY_PERMISSION)
    extra = {
        "range": "24h",  # the growth chart is history: live frames do not append to it
        "statuses": list(deadletters.STATUS_CHOICES),
        "sinces": list(deadletters.SINCE_CHOICES),
        "reasons": deadletters.REASONS,
        "may_replay": may,
        "query_string": request.GET.urlencode(),
        "alert": next((a for a in data["overview"].get("alerts", []) if a["rule"] == deadletters.ALERT_RULE), None),
    }
    return console_render(request, "console/dead_letters.html", title="Dead letters", data=data, **extra)


@never_cache
@require_POST
@may_replay
def dry_run(request: HttpRequest) -> HttpResponse:
    scope = request.POST.get("scope", "")
    if scope not in ("selected", "matching"):
        return error_response(request, status=400, code="invalid_scope", message="scope must be selected or matching",
                              fields={"scope": f"unknown scope {scope[:20]!r}"})  # fmt: skip
    try:
        query = deadletters.page_query(request.POST)
        data = deadletters.dry_run(scope=scope, ids=request.POST.getlist("ids"), query=query)
    except deadletters.BadFilter as exc:
        return _bad_filter(request, exc)
    if wants_json(request):
        return JsonResponse(data, json_dumps_params={"default": str})
    data = {"overview": telemetry.console_overview(), **data}
    return console_render(request, "console/dead_letters_dry_run.html", title="Replay: dry run", data=data)


@never_cache
@require_POST
@may_replay
def replay(request: HttpRequest) -> HttpResponse:
    scope = request.POST.get("scope", "")
    if scope not in ("selected", "matching"):
        return error_response(request, status=400, code="invalid_scope", message="scope must be selected or matching")
    try:
        query = deadletters.page_query(request.POST)
        job = deadletters.replay_start(actor=request.user, scope=scope, ids=request.POST.getlist("ids"), query=query,
                                       max_letter_id=request.POST.get("max_letter_id", ""))  # fmt: skip
    except deadletters.BadFilter as exc:
        return _bad_filter(request, exc)
    if wants_json(request):
        return JsonResponse({"job": deadletters.job_row(job)}, status=202)
    return redirect(reverse("console:dead-letter-job", args=[job.id]))


@never_cache
@require_POST
@may_replay
def discard(request: HttpRequest) -> HttpResponse:
    if request.POST.get("confirm") != "yes":
        return error_response(request, status=400, code="invalid_confirm", message="confirm the discard (confirm=yes)",
                              fields={"confirm": "tick the box to confirm"})  # fmt: skip
    try:
        count = deadletters.discard(actor=request.user, ids=request.POST.getlist("ids"),
                                    reason=request.POST.get("reason", ""))  # fmt: skip
    except deadletters.BadFilter as exc:
        return _bad_filter(request, exc)
    if wants_json(request):
        return JsonResponse({"discarded": count})
    back = request.POST.get("next", "")
    return redirect(back if back.startswith("/ops/dead-letters") else reverse("console:dead-letters"))


@never_cache
@require_GET
@json_twin("console-dead-letter-job")
@console_page
def job(request: HttpRequest, job_id: int) -> HttpResponse:
    data = deadletters.replay_job_page(job_id=job_id)
    if data is None:
        return error_response(request, status=404, code="not_found", message=f"No replay job {job_id}.")
    title = f"Replay job {job_id}"
    return console_render(request, "console/dead_letter_job.html", title=title, data=data,
                 filters_words=deadletters.job_filters_words(data["job"]),
                 may_replay=request.user.has_perm(deadletters.REPLAY_PERMISSION))  # fmt: skip


@never_cache
@require_POST
@may_replay
def job_cancel(request: HttpRequest, job_id: int) -> HttpResponse:
    cancelled = deadletters.replay_cancel(actor=request.user, job_id=job_id)
    if wants_json(request):
        return JsonResponse({"cancelled": cancelled})
    return redirect(reverse("console:dead-letter-job", args=[job_id]))
