from __future__ import annotations

from django.contrib import admin

from apps.purchases.models import StudentCoursePurchase
from lib.admin import IndexedSearchAdmin


@admin.register(StudentCoursePurchase)
class StudentCoursePurchaseAdmin(IndexedSearchAdmin):
    list_display = ("id", "student", "course", "payment_id", "is_active", "created_at")
    list_filter = ("is_active", "course")
    list_select_related = ("student", "course")
    search_fields = ("student__email",)
    search_email_path = "student__email"
    search_help_text = "Id or student email."
    autocomplete_fields = ("student", "course")
    raw_id_fields = ("payment",)
    readonly_fields = ("created_at",)
    show_full_result_count = False
