"""Who may open a console page: staff with console.view_console (superusers have it)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from apps.web.errors import error_response

VIEW_PERMISSION = "console.view_console"


def wants_json(request: HttpRequest) -> bool:
    return request.GET.get("format") == "json" or request.path.startswith("/ops/api/")


def may_view_console(user: Any) -> bool:
    """Staff who hold the console's view permission. Reads the user's permissions (cached on the user)."""
    return bool(user.is_authenticated and user.is_active and user.is_staff and user.has_perm(VIEW_PERMISSION))


def console_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Anonymous -> the admin's login (JSON: 401); signed in without access -> a 403 page (JSON: 403)."""

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not user.is_authenticated:
            if wants_json(request):
                return error_response(request, status=401, code="unauthenticated", message="Sign in as staff.")
            return redirect_to_login(request.get_full_path(), reverse("admin:login"))
        if not may_view_console(user):
            if wants_json(request):
                return error_response(
                    request, status=403, code="forbidden", message="The console is for staff operators."
                )
            return render(request, "console/forbidden.html", status=403)
        return view(request, *args, **kwargs)

    return guarded
