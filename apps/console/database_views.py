"""/ops/database (JSON twin: apps/console/api.py); cancel / terminate a backend (confirmed, permission-gated, audited)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from apps.console import database
from apps.console.access import console_page, json_twin, wants_json
from apps.console.actions import confirmation_required, console_action
from apps.console.rendering import console_context, console_render
from apps.web.errors import error_response

CANCEL_PERMISSION = "console.cancel_queries"
PID_MAX = 2**31 - 1
# The `confirm` value each step needs: terminate asks twice.
CONFIRMS = {database.CANCEL: ["yes"], database.TERMINATE: ["yes", "terminate"]}


@never_cache
@require_GET
@json_twin("console-database")
@console_page
def database_page(request: HttpRequest) -> HttpResponse:
    data = database.database_page()
    context = {**data, "may_cancel": request.user.has_perm(CANCEL_PERMISSION)}
    if request.GET.get("fragment") == "live":
        return HttpResponse(render_to_string("console/_database_live.html", context, request=request))
    return console_render(request, "console/database.html", title="Database", data=context)


@never_cache
@console_action(CANCEL_PERMISSION)
def backend_signal(request: HttpRequest, pid: int, how: str) -> HttpResponse:
    """Cancel: one confirmation. Terminate: two (it rolls back the session's transaction and drops it)."""
    if not 0 < pid <= PID_MAX:
        return error_response(request, status=400, code="invalid_pid", message="pid must be a positive 32-bit integer",
                              fields={"pid": f"{pid} is out of range"})  # fmt: skip
    steps = CONFIRMS[how]
    confirm = request.POST.get("confirm", "")
    backend_start = request.POST.get("backend_start") or None
    step = steps.index(confirm) + 1 if confirm in steps else 0
    if step < len(steps):
        if wants_json(request):
            return confirmation_required(request, confirm=steps[step],
                                         message=f"Confirm: send confirm={steps[step]} to {how} pid {pid}.")  # fmt: skip
        backend = database.backend_find(pid=pid)
        return render(request, "console/database_confirm.html", {
            **console_context(request, title=f"{how.capitalize()} pid {pid}"),
            "pid": pid, "how": how, "backend": backend, "backend_start": backend_start or (backend or {}).get("backend_start"),
            "next_confirm": steps[step], "second": step == 1,
        })  # fmt: skip
    result = database.backend_signal(actor=request.user, pid=pid, how=how, backend_start=backend_start)
    if wants_json(request):
        return JsonResponse(result, status=200 if result["outcome"] == "succeeded" else 409)
    level = messages.SUCCESS if result["outcome"] == "succeeded" else messages.WARNING
    messages.add_message(request, level, result["message"])
    return redirect("console:database")
