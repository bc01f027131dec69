from __future__ import annotations

from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "apps.realtime"
    label = "realtime"
    verbose_name = "Realtime"

    def ready(self) -> None:
        from apps.realtime import signals

        signals.connect()
