from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from apps.telemetry.models import Alert


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    """Alert history, read-only: the sampler opens and resolves alerts."""

    list_display = ("rule", "state", "since", "resolved_at", "value", "threshold", "summary")
    list_filter = ("state", "rule")
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
