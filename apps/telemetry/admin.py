from __future__ import annotations

from django.contrib import admin

from apps.telemetry.models import Alert
from lib.admin import ReadOnlyAdminMixin


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Alert history, read-only: the sampler opens and resolves alerts."""

    list_display = ("rule", "state", "since", "resolved_at", "value", "threshold", "summary")
    list_filter = ("state", "rule")
    show_full_result_count = False
