"""Who may open a console page: staff with console.view_console (superusers have it)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse

from apps.web.errors import error_response

VIEW_PERMISSION = "console.view_console"


def wants_json(request: HttpRequest) -> bool:
    """An action's form posted with ?format=json answers in JSON (a page's ?format=json redirects: json_twin)."""
    return request.GET.get("format") == "json"


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


def json_twin(url_name: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """`?format=json` on a page redirects to its JSON twin on the API (`api:<url_name>`, apps/console/api.py).

    One implementation per twin: the page renders HTML, the API operation answers JSON,
    both from the same selector. The rest of the query string (range, filters) goes along.
    """

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def page(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.GET.get("format") != "json":
                return view(request, *args, **kwargs)
            params = request.GET.copy()
            del params["format"]
            url = reverse(f"api:{url_name}", kwargs=kwargs)
            return HttpResponseRedirect(f"{url}?{params.urlencode()}" if params else url)

        return page

    return decorate
