from __future__ import annotations

from django.contrib import admin

from apps.allocations.models import TrainerAllocation
from lib.admin import IndexedSearchAdmin, ReadOnlyAdminMixin


@admin.register(TrainerAllocation)
class TrainerAllocationAdmin(ReadOnlyAdminMixin, IndexedSearchAdmin):
    """Read-only: a hand edit or delete would orphan the pipeline's work (allocations, sessions) or skip its rules."""

    list_display = ("id", "student", "course", "trainer", "status", "allocated_at", "created_at")
    # Newest first, each filter served by an index in that order: (created_at DESC, id DESC) and (status|course, ...).
    list_filter = ("status", "course")
    sortable_by = ("id", "created_at")
    list_select_related = ("student", "course", "trainer")
    search_fields = ("student__email",)
    search_email_path = "student__email"
    search_help_text = "Id, or a student's whole email (any case). Exact: part of an email is not searched."
    show_full_result_count = False
