from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from apps.allocations.selectors import trainer_list_with_load
from apps.directory.models import Course, Student, Trainer
from lib.admin import IndexedSearchAdmin

SEARCH_HELP = (
    "Id, a whole email, or the start of a name or email (any case; 'ada' finds Ada Abara and ada.k@…). "
    "Not the middle of a word: only what an index serves."
)


@admin.register(Student)
class StudentAdmin(IndexedSearchAdmin):
    list_display = ("full_name", "email", "phone", "status", "created_at")
    list_filter = ("status",)
    sortable_by = ("full_name",)  # students_full_name_id_idx
    search_fields = ("full_name", "email")
    search_prefixes = ("full_name", "email")
    search_help_text = SEARCH_HELP


@admin.register(Course)
class CourseAdmin(admin.ModelAdmin):
    list_display = ("title", "code", "status", "price", "currency", "sessions_per_purchase", "session_minutes")
    list_filter = ("status", "currency")
    search_fields = ("title", "code")
    prepopulated_fields = {"code": ("title",)}


@admin.register(Trainer)
class TrainerAdmin(IndexedSearchAdmin):
    list_display = ("full_name", "email", "status", "load", "created_at")
    list_filter = ("status", "courses")
    sortable_by = ("full_name",)  # trainers_full_name_id_idx
    search_fields = ("full_name", "email")
    search_prefixes = ("full_name", "email")
    search_help_text = SEARCH_HELP
    filter_horizontal = ("courses",)
    readonly_fields = ("load",)

    class Media:
        css = {"all": ("console/admin.css",)}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Trainer]:
        return trainer_list_with_load(trainers=super().get_queryset(request))

    @admin.display(description="load / capacity")
    def load(self, trainer: Trainer) -> str:
        """Active allocations against capacity; marked when full or over (the seed and the pipeline never go over)."""
        load, capacity = trainer.active_load, trainer.capacity  # type: ignore[attr-defined]
        level = "over" if load > capacity else "full" if load == capacity else "room"
        return format_html('<span class="load load-{}">{} / {}</span>', level, load, capacity)
