"""/ops/workers (JSON twin: apps/console/api.py); the worker controls (confirmed, permission-gated, audited, bounded)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from kombu.exceptions import KombuError

from apps.console import workers
from apps.console.access import console_page, json_twin, wants_json
from apps.console.actions import confirmation_required, console_action
from apps.console.rendering import console_context, console_render
from apps.web.errors import error_response
from lib.redis import REDIS_ERRORS

CONTROL_PERMISSION = "console.control_workers"
# action -> (the field naming its target, whether it asks first, what it does in words)
CONTROLS = {
    "revoke": ("task_id", True, "revoke task {target}: every worker discards it when it comes off the queue"),
    "pause": ("queue", True, "pause queue {target}: every worker stops taking its messages until it is resumed"),
    "resume": ("queue", False, "resume queue {target}"),
    "shutdown": ("nodename", True, "stop worker {target} after its running tasks (warm shutdown)"),
}


@never_cache
@require_GET
@json_twin("console-workers")
@console_page
def workers_page(request: HttpRequest) -> HttpResponse:
    data = workers.workers_page()
    context = {**data, "may_control": request.user.has_perm(CONTROL_PERMISSION), "queue_names": settings.WORKER_QUEUES}
    if request.GET.get("fragment") == "live":
        return HttpResponse(render_to_string("console/_workers_live.html", context, request=request))
    return console_render(request, "console/workers.html", title="Workers and queues", data=context)


@never_cache
@console_action(CONTROL_PERMISSION)
def worker_control(request: HttpRequest) -> HttpResponse:
    action = request.POST.get("action", "")
    if action not in CONTROLS:
        return error_response(request, status=400, code="invalid_action", message=f"action must be one of {', '.join(CONTROLS)}",
                              fields={"action": f"unknown action {action!r}"})  # fmt: skip
    field, asks, words = CONTROLS[action]
    target = request.POST.get(field, "").strip()
    if not target:
        return error_response(request, status=400, code="missing_target", message=f"{action} needs {field}",
                              fields={field: "required"})  # fmt: skip
    if asks and request.POST.get("confirm") != "yes":
        if wants_json(request):
            return confirmation_required(request, confirm="yes", message=f"Confirm: {words.format(target=target)}.")
        return render(request, "console/workers_confirm.html", {
            **console_context(request, title=f"Confirm: {action}"),
            "action": action, "field": field, "target": target, "words": words.format(target=target),
            "timeout_s": settings.CONSOLE_CONTROL_TIMEOUT,
        })  # fmt: skip
    try:
        result = _run(request, action, target)
    except workers.ControlRefused as refusal:
        return _answer(request, status=400, code="refused", message=str(refusal), field=field)
    except (KombuError, *REDIS_ERRORS) as exc:
        return _answer(
            request, status=503, code="broker_unavailable", message=f"The broker did not answer ({type(exc).__name__})."
        )
    if wants_json(request):
        return JsonResponse(result, status=200 if result["outcome"] == "succeeded" else 504)
    names = ", ".join(a["worker"] for a in result["answered"]) or f"no worker within {result['timeout_s']:g} s"
    level = messages.SUCCESS if result["outcome"] == "succeeded" else messages.WARNING
    messages.add_message(request, level, f"{words.format(target=target).capitalize()} — answered: {names}")
    return redirect("console:workers")


def _run(request: HttpRequest, action: str, target: str) -> dict[str, Any]:
    if action == "revoke":
        return workers.task_revoke(actor=request.user, task_id=target)
    if action == "pause":
        return workers.queue_pause(actor=request.user, queue=target)
    if action == "resume":
        return workers.queue_resume(actor=request.user, queue=target)
    return workers.worker_shutdown(actor=request.user, nodename=target)


def _answer(request: HttpRequest, *, status: int, code: str, message: str, field: str | None = None) -> HttpResponse:
    if wants_json(request):
        return error_response(request, status=status, code=code, message=message,
                              fields={field: message} if field else None)  # fmt: skip
    messages.error(request, message)
    return redirect("console:workers")
