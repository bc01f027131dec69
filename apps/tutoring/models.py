from __future__ import annotations

from django.db import models

from apps.allocations.models import TrainerAllocation
from apps.directory.models import Course, Student, Trainer


class SessionStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    NO_SHOW = "no_show", "No show"


class TutoringSession(models.Model):
    Status = SessionStatus

    # Allocation, student and trainer lookups are served by the composite indexes below.
    allocation = models.ForeignKey(TrainerAllocation, on_delete=models.PROTECT, related_name="sessions", db_index=False)
    student = models.ForeignKey(Student, on_delete=models.PROTECT, related_name="sessions", db_index=False)
    trainer = models.ForeignKey(Trainer, on_delete=models.PROTECT, related_name="sessions", db_index=False)
    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="sessions")
    scheduled_date = models.DateField()
    scheduled_time = models.TimeField()
    duration_minutes = models.PositiveSmallIntegerField(default=60)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SCHEDULED)
    # Made by seed_demo: the seed reads, extends and allocates only these rows (see apps/demo/services.py).
    is_demo = models.BooleanField(default=False, db_default=False, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "tutoring_sessions"
        ordering = ["scheduled_date", "scheduled_time", "id"]
        constraints = [
            # Scheduling: WHERE allocation_id = %s [AND scheduled_date = %s AND scheduled_time = %s]; one session per slot.
            models.UniqueConstraint(
                fields=["allocation", "scheduled_date", "scheduled_time"], name="tutoring_sessions_allocation_slot_uniq"
            ),
            models.CheckConstraint(condition=models.Q(duration_minutes__gte=15), name="tutoring_sessions_duration_min"),
            models.CheckConstraint(
                condition=models.Q(status__in=SessionStatus.values), name="tutoring_sessions_status_valid"
            ),
        ]
        indexes = [
            # A student's upcoming sessions: WHERE student_id = %s AND status = %s ORDER BY scheduled_date, scheduled_time.
            models.Index(
                fields=["student", "status", "scheduled_date", "scheduled_time"],
                name="tutoring_sessions_student_status_slot_idx",
            ),
            # A trainer's day: WHERE trainer_id = %s AND scheduled_date [= | BETWEEN] %s.
            models.Index(fields=["trainer", "scheduled_date"], name="tutoring_sessions_trainer_date_idx"),
            # The admin's list in slot order: ORDER BY scheduled_date, scheduled_time, id LIMIT n (and its date filter).
            models.Index(fields=["scheduled_date", "scheduled_time", "id"], name="tutoring_sessions_slot_idx"),
            # The admin's status filter in slot order: WHERE status = %s ORDER BY scheduled_date, scheduled_time, id.
            models.Index(
                fields=["status", "scheduled_date", "scheduled_time", "id"], name="tutoring_sessions_status_slot_idx"
            ),
            # A trainer's sessions by status: WHERE trainer_id = %s AND status = %s.
            models.Index(fields=["trainer", "status"], name="tutoring_sessions_trainer_status_idx"),
        ]

    def __str__(self) -> str:
        return f"Session {self.pk} {self.scheduled_date} {self.scheduled_time} ({self.status})"
