"""/ops/drills (JSON twin: apps/console/api.py); running a drill (OPS_FAULT_DRILLS only; confirmed, permission-gated, audited)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from apps.console.access import console_page, json_twin, wants_json
from apps.console.actions import confirmation_required, console_action
from apps.console.drills import drills_reading
from apps.console.presenters import tile_levels
from apps.console.rendering import console_context, console_render
from apps.drills.catalogue import DRILLS
from apps.drills.effects import DrillFailed
from apps.drills.services import DrillRefused, drill_run
from apps.web.errors import error_response

DRILL_PERMISSION = "console.run_drills"


def _drills_on() -> None:
    if not settings.OPS_FAULT_DRILLS:
        raise Http404("Fault drills are off (OPS_FAULT_DRILLS).")


@never_cache
@require_GET
@json_twin("console-drills")
@console_page
def drills_page(request: HttpRequest) -> HttpResponse:
    _drills_on()
    data = drills_reading()
    context = {**data, "may_run": request.user.has_perm(DRILL_PERMISSION), "levels": tile_levels(data["overview"]),
               "default_seconds": settings.DRILL_SECONDS}  # fmt: skip
    if request.GET.get("fragment") == "live":
        return HttpResponse(render_to_string("console/_drills_live.html", context, request=request))
    return console_render(request, "console/drills.html", title="Fault drills", data=context)


@never_cache
@console_action(DRILL_PERMISSION)
def drill_start(request: HttpRequest, name: str) -> HttpResponse:
    _drills_on()
    drill = DRILLS.get(name)
    if drill is None:
        return error_response(request, status=404, code="unknown_drill", message=f"No drill {name!r}.")
    raw = request.POST.get("seconds", "").strip()
    try:
        seconds = float(raw) if raw else None
    except ValueError:
        return error_response(request, status=400, code="invalid_seconds", message="seconds must be a number",
                              fields={"seconds": f"not a number: {raw!r}"})  # fmt: skip
    if request.POST.get("confirm") != name:
        words = f"run the {drill.title} drill: {drill.does}"
        if wants_json(request):
            return confirmation_required(request, confirm=name, message=f"Confirm: {words}")
        return render(request, "console/drills_confirm.html", {
            **console_context(request, title=f"Run: {drill.title}"),
            "drill": drill, "seconds": raw,
        })  # fmt: skip
    try:
        result = drill_run(actor=request.user, name=name, seconds=seconds)
    except DrillRefused as refusal:
        return _answer(request, status=400, code="refused", message=str(refusal))
    except DrillFailed as failure:
        return _answer(request, status=503, code="drill_failed", message=str(failure))
    if wants_json(request):
        return JsonResponse(result)
    until = f" for {result['seconds']:g} s" if result["seconds"] else ""
    messages.success(request, f"{drill.title} running{until}. Now: {drill.expect} Clears: {drill.clears}")
    return redirect("console:drills")


def _answer(request: HttpRequest, *, status: int, code: str, message: str) -> HttpResponse:
    if wants_json(request):
        return error_response(request, status=status, code=code, message=message)
    messages.error(request, message)
    return redirect("console:drills")
