"""WebSocket routes; mounted by ops_console/asgi.py behind origin and session checks."""

from __future__ import annotations

from django.urls import path

from apps.realtime import consumers

websocket_urlpatterns = [
    path("ws/events/", consumers.EventsConsumer.as_asgi()),
    path("ws/ops/", consumers.OpsConsumer.as_asgi()),
]
