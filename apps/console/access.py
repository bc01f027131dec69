"""Who may open a console page: staff with console.view_console (superusers have it).

A page polling /ops/live every 2 s would read the user row and its permissions on
every poll. `console_poll` lets a session in on a grant remembered in Redis instead:
after a full check lets a user in, `<prefix>:console:access:<user id>` holds the
user's session auth hash (it changes with the password) for CONSOLE_ACCESS_CACHE
seconds. A poll whose session carries that user and that hash needs no database
read. Saving the user, or changing its groups, its permissions or its groups'
permissions, drops the grant at once (signals.py); anything the model signals do
not see locks the user out within CONSOLE_ACCESS_CACHE seconds. Logging out
empties the session, so the grant no longer matches it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.crypto import constant_time_compare

from apps.web.errors import error_response
from lib.redis import redis_read, redis_write

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


def console_poll(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """console_page for an endpoint a page polls: a remembered grant lets the session in without a database read.

    Without a grant (first poll, expired, dropped, or Redis down) the full check runs
    and, when it lets the user in, the grant is remembered for CONSOLE_ACCESS_CACHE seconds.
    """
    checked = console_page(view)

    @wraps(view)
    def polled(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if console_access_remembered(request):
            return view(request, *args, **kwargs)
        response = checked(request, *args, **kwargs)
        if response.status_code == 200:
            console_access_remember(request.user)
        return response

    return polled


def console_access_remembered(request: HttpRequest) -> bool:
    """This session's user was let in within CONSOLE_ACCESS_CACHE s, with its current password. One Redis read."""
    session = request.session
    user_id, session_hash = session.get(SESSION_KEY), session.get(HASH_SESSION_KEY)
    if not user_id or not session_hash or session.get(BACKEND_SESSION_KEY) not in settings.AUTHENTICATION_BACKENDS:
        return False
    granted = redis_read(lambda client: client.get(_access_key(user_id)), default=None, what="console_access")
    return isinstance(granted, bytes) and constant_time_compare(granted.decode(), session_hash)


def console_access_remember(user: Any) -> None:
    """Remember that `user` (who just passed the full check) may view the console. One bounded Redis write."""
    ttl_ms = int(settings.CONSOLE_ACCESS_CACHE * 1000)
    if ttl_ms <= 0:
        return
    auth_hash = user.get_session_auth_hash()
    redis_write(lambda client: client.set(_access_key(user.pk), auth_hash, px=ttl_ms), what="console_access")


def console_access_forget(user_ids: Iterable[object]) -> None:
    """Drop these users' grants: their next poll runs the full check. One bounded Redis write."""
    keys = [_access_key(user_id) for user_id in user_ids]
    if keys:
        redis_write(lambda client: client.delete(*keys), what="console_access_forget")


def _access_key(user_id: object) -> str:
    return f"{settings.TELEMETRY_KEY_PREFIX}:console:access:{user_id}"
