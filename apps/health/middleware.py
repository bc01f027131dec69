"""Probes answer whatever Host they name.

Kubelet and load-balancer health checks name the instance's own address as
Host, which no ALLOWED_HOSTS can list ahead. CommonMiddleware validates the
Host of every request (a 400 otherwise), so this middleware, just above it,
hands GET or HEAD on /health and /ready straight to their views. Every other
request, and any other method on these paths, goes down the usual stack.
SecurityMiddleware, above, checks the Host only to redirect to HTTPS, which
SECURE_REDIRECT_EXEMPT spares the probes.
"""

from __future__ import annotations

from asgiref.sync import async_to_sync, iscoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponse
from django.urls import ResolverMatch, resolve

from apps.web.middleware import HybridMiddleware

PROBE_PATHS = frozenset({"/health", "/ready"})
PROBE_METHODS = frozenset({"GET", "HEAD"})


def probe_match(request: HttpRequest) -> ResolverMatch | None:
    """The URLconf's match for a probe, kept on the request as Django's handler keeps it; None for any other request."""
    if request.method not in PROBE_METHODS or request.path_info not in PROBE_PATHS:
        return None
    match = resolve(request.path_info)
    request.resolver_match = match
    return match


class ProbeMiddleware(HybridMiddleware):
    def sync_call(self, request: HttpRequest) -> HttpResponse:
        match = probe_match(request)
        if match is None:
            return self.get_response(request)
        view = async_to_sync(match.func) if iscoroutinefunction(match.func) else match.func
        return view(request, *match.args, **match.kwargs)

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        match = probe_match(request)
        if match is None:
            return await self.get_response(request)
        view = match.func if iscoroutinefunction(match.func) else sync_to_async(match.func)
        return await view(request, *match.args, **match.kwargs)
