"""Who sent a request: the TCP peer, or the client a trusted proxy forwarded.

uvicorn runs with --no-proxy-headers (the Procfile's web command), so
REMOTE_ADDR and the scheme are always the peer's own. X-Forwarded-For and
X-Forwarded-Proto are believed only when that peer is one of TRUSTED_PROXIES;
anyone else could have written them. See docs/ratelimiting.md.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from apps.web.middleware import HybridMiddleware

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
FORWARDED_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO")


def _trusted_networks() -> list[IPNetwork]:
    return [ipaddress.ip_network(network, strict=False) for network in settings.TRUSTED_PROXIES]


def _is_trusted(address: str, networks: list[IPNetwork]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return any(ip in network for network in networks)


def peer_is_trusted_proxy(request: HttpRequest) -> bool:
    return _is_trusted(request.META.get("REMOTE_ADDR", ""), _trusted_networks())


def client_address(request: HttpRequest) -> str:
    """The one answer to "who is this client?"; the rate limits count under it.

    From an untrusted peer: the peer (REMOTE_ADDR), whatever X-Forwarded-For says.
    From a trusted proxy: X-Forwarded-For read right to left, skipping our own
    proxies; the first other hop is the address our outermost proxy saw. Hops
    left of it were written by the client and are never read.
    """
    peer = request.META.get("REMOTE_ADDR", "")
    networks = _trusted_networks()
    if not _is_trusted(peer, networks):
        return peer
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, networks):
            return hop
    return hops[0] if hops else peer


class ForwardedHeadersMiddleware(HybridMiddleware):
    """First in MIDDLEWARE: forwarded headers from a peer that is not a trusted proxy are removed.

    So SECURE_PROXY_SSL_HEADER (set only when TRUSTED_PROXIES is) never believes
    X-Forwarded-Proto from anyone else, and no code below sees a forged header.
    """

    def sync_call(self, request: HttpRequest) -> HttpResponse:
        _drop_untrusted_forwarded_headers(request)
        return self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        _drop_untrusted_forwarded_headers(request)
        return await self.get_response(request)


def _drop_untrusted_forwarded_headers(request: HttpRequest) -> None:
    if peer_is_trusted_proxy(request):
        return
    for header in FORWARDED_HEADERS:
        request.META.pop(header, None)
