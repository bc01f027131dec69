"""Web origins compared as (scheme, host, port).

Nothing here reads settings: settings.py checks
WS_ALLOWED_ORIGINS with this module while it loads, and the WebSocket origin
check (apps/realtime/security.py) compares handshakes with it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}


def parse_origin(value: str) -> tuple[str, str, int] | None:
    """'HTTPS://Ops.example.com' -> ('https', 'ops.example.com', 443); None if it is not an exact web origin.

    An origin is http or https, a host and an optional port (the scheme's default
    made explicit): no user, path, query, fragment or wildcard.
    """
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or "*" in parts.netloc or "@" in parts.netloc:
        return None
    if parts.path or parts.query or parts.fragment:
        return None
    return scheme, parts.hostname, _DEFAULT_PORTS[scheme] if port is None else port
