"""The audit trail, read-only: rows come from audit_record() alone."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from apps.console.models import OperatorAction


@admin.register(OperatorAction)
class OperatorActionAdmin(admin.ModelAdmin):
    list_display = ("created_at", "actor_username", "action", "target", "outcome", "correlation_id")
    list_filter = ("outcome", "action", "created_at")
    search_fields = ("=correlation_id", "=actor_username", "target")
    search_help_text = "Exact correlation id or username, or part of the target."
    readonly_fields = (
        "created_at",
        "actor",
        "actor_username",
        "action",
        "target",
        "outcome",
        "correlation_id",
        "detail",
    )
    show_full_result_count = False  # no COUNT(*) over the whole trail on every page

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
