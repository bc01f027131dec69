from __future__ import annotations

from django.contrib import admin

from apps.directory.models import Course, Student, Trainer


@admin.register(Student)
class StudentAdmin(admin.ModelAdmin):
    list_display = ("full_name", "email", "phone", "status", "created_at")
    list_filter = ("status",)
    search_fields = ("full_name", "email", "=id")
    show_full_result_count = False
    date_hierarchy = "created_at"


@admin.register(Course)
class CourseAdmin(admin.ModelAdmin):
    list_display = ("title", "code", "status", "price", "currency", "sessions_per_purchase", "session_minutes")
    list_filter = ("status", "currency")
    search_fields = ("title", "code")
    prepopulated_fields = {"code": ("title",)}


@admin.register(Trainer)
class TrainerAdmin(admin.ModelAdmin):
    list_display = ("full_name", "email", "status", "capacity", "created_at")
    list_filter = ("status", "courses")
    search_fields = ("full_name", "email", "=id")
    filter_horizontal = ("courses",)
    show_full_result_count = False
