from __future__ import annotations

from django.contrib import admin

from apps.purchases.models import StudentCoursePurchase
from lib.admin import IndexedSearchAdmin, ReadOnlyAdminMixin


@admin.register(StudentCoursePurchase)
class StudentCoursePurchaseAdmin(ReadOnlyAdminMixin, IndexedSearchAdmin):
    """Read-only: a hand edit or delete would orphan the pipeline's work (allocations, sessions) or skip its rules."""

    list_display = ("id", "student", "course", "payment_id", "is_active", "created_at")
    # Newest first, each filter served by an index in that order: (created_at DESC, id DESC) and (course, ...).
    list_filter = ("is_active", "course")
    sortable_by = ("id", "created_at")
    list_select_related = ("student", "course")
    search_fields = ("student__email",)
    search_email_path = "student__email"
    search_help_text = "Id, or a student's whole email (any case). Exact: part of an email is not searched."
    show_full_result_count = False
