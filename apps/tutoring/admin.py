from __future__ import annotations

from django.contrib import admin

from apps.core.admin import IndexedSearchAdmin
from apps.tutoring.models import TutoringSession


@admin.register(TutoringSession)
class TutoringSessionAdmin(IndexedSearchAdmin):
    list_display = ("id", "scheduled_date", "scheduled_time", "student", "trainer", "course", "status")
    list_filter = ("status", "course", "scheduled_date")
    list_select_related = ("student", "trainer", "course")
    search_fields = ("student__email",)
    search_email_path = "student__email"
    search_help_text = "Id or student email."
    autocomplete_fields = ("student", "trainer", "course")
    raw_id_fields = ("allocation",)
    readonly_fields = ("created_at", "updated_at")
    show_full_result_count = False
