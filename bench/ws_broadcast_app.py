"""Bench-only ASGI app: broadcast-and-filter, the design apps/realtime must beat (bench/websockets.py).

Every socket joins one group and decodes every event to keep its own user's.
Production routing (apps/realtime/routing.py) is untouched; only the benchmark
starts uvicorn with `bench.ws_broadcast_app:application`.
"""

from __future__ import annotations

import json
import os
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ops_console.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from apps.realtime.consumers import EventsConsumer  # noqa: E402
from apps.realtime.lifecycle import lifespan  # noqa: E402
from apps.realtime.security import origin_checked  # noqa: E402

BROADCAST_GROUP = "bench.all"


class BroadcastFilterConsumer(EventsConsumer):
    """Joins only the one shared group; drops every event not addressed to its user."""

    async def _track_and_join(self) -> str | None:
        self.groups_joined = [BROADCAST_GROUP]
        return await super()._track_and_join()

    def realtime_event(self, message: dict[str, Any]) -> None:
        if json.loads(message["text"])["data"].get("user_id") != self.user_id:
            return
        super().realtime_event(message)


application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": origin_checked(
            AuthMiddlewareStack(URLRouter([path("ws/events/", BroadcastFilterConsumer.as_asgi())]))
        ),
        "lifespan": lifespan,
    }
)
