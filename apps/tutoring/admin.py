from __future__ import annotations

from typing import Any

from django.contrib import admin

from apps.tutoring.models import TutoringSession
from apps.tutoring.services import session_announce_change
from lib.admin import IndexedSearchAdmin


@admin.register(TutoringSession)
class TutoringSessionAdmin(IndexedSearchAdmin):
    list_display = ("id", "scheduled_date", "scheduled_time", "student", "trainer", "course", "status")
    # In slot order, each filter served by an index in that order: (scheduled_date, scheduled_time, id) and
    # (status|course, scheduled_date, scheduled_time, id).
    list_filter = ("status", "course", "scheduled_date")
    sortable_by = ("id", "scheduled_date")
    list_select_related = ("student", "trainer", "course")
    search_fields = ("student__email",)
    search_email_path = "student__email"
    search_help_text = "Id, or a student's whole email (any case). Exact: part of an email is not searched."
    autocomplete_fields = ("student", "trainer", "course")
    raw_id_fields = ("allocation",)
    readonly_fields = ("created_at", "updated_at")
    show_full_result_count = False

    def save_model(self, request: Any, obj: TutoringSession, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change and form.changed_data:
            moved_from = {name: form.initial.get(name) for name in ("student", "trainer") if name in form.changed_data}
            session_announce_change(
                session=obj,
                changed=form.changed_data,
                previous_student_id=moved_from.get("student"),
                previous_trainer_id=moved_from.get("trainer"),
            )
