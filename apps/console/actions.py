"""Operator actions: POST only, CSRF-checked (Django's middleware), staff with the action's permission.

Each action view is wrapped by `console_action(permission)`: anonymous -> login (JSON 401),
no console access or no such permission -> 403 page (JSON 403). The view then asks for
confirmation (a page, or JSON 409 naming the `confirm` value to send) before it acts.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from apps.console.access import console_page, wants_json
from apps.web.errors import error_response


def console_action(permission: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.has_perm(permission):
                message = f"This action needs the {permission} permission."
                if wants_json(request):
                    return error_response(request, status=403, code="forbidden", message=message)
                return render(request, "console/action_forbidden.html", {"message": message}, status=403)
            return view(request, *args, **kwargs)

        return require_POST(console_page(guarded))

    return decorate


def confirmation_required(request: HttpRequest, *, confirm: str, message: str) -> HttpResponse:
    """JSON 409: the action was not confirmed; send `confirm=<value>` to go ahead."""
    return error_response(
        request, status=409, code="confirmation_required", message=message, extra={"confirm": confirm}
    )
