from __future__ import annotations

from django.contrib import admin

from apps.directory.models import Course, Student, Trainer
from lib.admin import IndexedSearchAdmin


@admin.register(Student)
class StudentAdmin(IndexedSearchAdmin):
    list_display = ("full_name", "email", "phone", "status", "created_at")
    list_filter = ("status",)
    search_fields = ("full_name", "email")
    search_names = ("full_name",)
    search_help_text = "Id, email, or part of the name."
    show_full_result_count = False


@admin.register(Course)
class CourseAdmin(admin.ModelAdmin):
    list_display = ("title", "code", "status", "price", "currency", "sessions_per_purchase", "session_minutes")
    list_filter = ("status", "currency")
    search_fields = ("title", "code")
    prepopulated_fields = {"code": ("title",)}


@admin.register(Trainer)
class TrainerAdmin(IndexedSearchAdmin):
    list_display = ("full_name", "email", "status", "capacity", "created_at")
    list_filter = ("status", "courses")
    search_fields = ("full_name", "email")
    search_names = ("full_name",)
    search_help_text = "Id, email, or part of the name."
    filter_horizontal = ("courses",)
    show_full_result_count = False
