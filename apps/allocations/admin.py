from __future__ import annotations

from django.contrib import admin

from apps.allocations.models import TrainerAllocation
from lib.admin import IndexedSearchAdmin


@admin.register(TrainerAllocation)
class TrainerAllocationAdmin(IndexedSearchAdmin):
    list_display = ("id", "student", "course", "trainer", "status", "allocated_at", "created_at")
    list_filter = ("status", "course")
    list_select_related = ("student", "course", "trainer")
    search_fields = ("student__email",)
    search_email_path = "student__email"
    search_help_text = "Id or student email."
    autocomplete_fields = ("student", "course", "trainer")
    raw_id_fields = ("purchase",)
    readonly_fields = ("created_at", "updated_at")
    show_full_result_count = False
