from __future__ import annotations

from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "apps.console"
    label = "console"
    verbose_name = "Operations console"

    def ready(self) -> None:
        from apps.console import signals

        signals.connect()
