"""WebSocket routes; mounted by ops_console/asgi.py behind origin and session checks."""

from __future__ import annotations

from django.urls import path

from apps.realtime import consumers

# django-stubs types path() for views only; Channels routes ASGI apps through it.
websocket_urlpatterns = [
    path("ws/events/", consumers.EventsConsumer.as_asgi()),  # type: ignore[arg-type]
    path("ws/ops/", consumers.OpsConsumer.as_asgi()),  # type: ignore[arg-type]
]
