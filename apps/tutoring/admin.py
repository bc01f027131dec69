from __future__ import annotations

from django.contrib import admin

from apps.tutoring.models import TutoringSession


@admin.register(TutoringSession)
class TutoringSessionAdmin(admin.ModelAdmin):
    list_display = ("id", "scheduled_date", "scheduled_time", "student", "trainer", "course", "status")
    list_filter = ("status", "course", "scheduled_date")
    list_select_related = ("student", "trainer", "course")
    search_fields = ("=id", "student__email", "trainer__email")
    autocomplete_fields = ("student", "trainer", "course")
    raw_id_fields = ("allocation",)
    readonly_fields = ("created_at", "updated_at")
    show_full_result_count = False
    date_hierarchy = "scheduled_date"
