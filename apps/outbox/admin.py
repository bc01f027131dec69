from __future__ import annotations

from django.contrib import admin

from apps.outbox.models import OutboxMessage


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    """Hand-offs not yet taken by the broker: a growing list means the broker or the relay is down."""

    list_display = ("id", "task_name", "args", "created_at", "available_at", "attempts", "last_error")
    list_filter = ("task_name",)
    ordering = ("available_at", "id")
    readonly_fields = [field.name for field in OutboxMessage._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False
