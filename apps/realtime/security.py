"""Origin check for WebSockets: a handshake from an origin not in WS_ALLOWED_ORIGINS is refused (403) and counted.

Origins compare as (scheme, host, port), the scheme's default port made
explicit: `http://127.0.0.1:9999` is not `http://127.0.0.1:8000`, nor is
`https://` the same host over `http://`. A missing, repeated or opaque
(`null`) Origin is refused: browsers always send one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import structlog
from django.conf import settings

from apps.realtime.origins import parse_origin
from apps.realtime.state import refused

logger = structlog.get_logger(__name__)

# Enough of a refused Origin header for an operator to recognise it in the log.
LOGGED_ORIGIN_CHARS = 100


class OriginValidator:
    """ASGI middleware in front of the WebSocket stack; one set lookup per handshake."""

    def __init__(self, application: Any, allowed_origins: Iterable[str]) -> None:
        self.application = application
        self.allowed = frozenset(key for origin in allowed_origins if (key := parse_origin(origin)) is not None)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        origin = request_origin(scope)
        if origin is not None and parse_origin(origin) in self.allowed:
            return await self.application(scope, receive, send)
        refused("origin")
        logger.info("ws_refused", reason="origin", origin=(origin or "")[:LOGGED_ORIGIN_CHARS], path=scope["path"])
        await deny(receive, send)


def request_origin(scope: dict[str, Any]) -> str | None:
    """The handshake's one Origin header; None when it has none or several."""
    values = [value for name, value in scope.get("headers", ()) if name == b"origin"]
    return values[0].decode("latin-1") if len(values) == 1 else None


async def deny(receive: Any, send: Any) -> None:
    """Close before accept: the server answers the handshake with HTTP 403 (no consumer, no channel-layer call)."""
    message = await receive()
    if message["type"] == "websocket.connect":
        await send({"type": "websocket.close"})


def origin_checked(application: Any) -> Any:
    """`application` behind the origin check, with the origins of WS_ALLOWED_ORIGINS."""
    return OriginValidator(application, settings.WS_ALLOWED_ORIGINS)
