from __future__ import annotations

from django.db import models

from apps.directory.models import Course, Student, Trainer
from apps.purchases.models import StudentCoursePurchase


class AllocationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    REJECTED = "rejected", "Rejected"


class TrainerAllocation(models.Model):
    Status = AllocationStatus

    OPEN_STATUSES = (Status.PENDING, Status.ACTIVE)

    # Student and trainer lookups are served by the composite indexes below.
    student = models.ForeignKey(Student, on_delete=models.PROTECT, related_name="allocations", db_index=False)
    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="allocations")
    purchase = models.ForeignKey(
        StudentCoursePurchase, on_delete=models.PROTECT, related_name="allocations", db_index=False
    )
    trainer = models.ForeignKey(
        Trainer, on_delete=models.PROTECT, related_name="allocations", null=True, blank=True, db_index=False
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    allocated_at = models.DateTimeField(null=True, blank=True)
    # Made by seed_demo: the seed reads, extends and allocates only these rows (see apps/demo/services.py).
    is_demo = models.BooleanField(default=False, db_default=False, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "trainer_allocations"
        ordering = ["-created_at", "-id"]
        constraints = [
            # Pipeline step "purchase -> allocation": WHERE purchase_id = %s AND status IN open; one open allocation.
            models.UniqueConstraint(
                fields=["purchase"],
                condition=models.Q(status__in=["pending", "active"]),
                name="trainer_allocations_purchase_open_uniq",
            ),
            # An active allocation always names its trainer.
            models.CheckConstraint(
                condition=~models.Q(status="active") | models.Q(trainer__isnull=False),
                name="trainer_allocations_active_has_trainer",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=AllocationStatus.values), name="trainer_allocations_status_valid"
            ),
        ]
        indexes = [
            # A student's allocations: WHERE student_id = %s AND status = %s [AND course_id = %s].
            models.Index(fields=["student", "status", "course"], name="trainer_allocations_student_status_course_idx"),
            # Trainer load and capacity: WHERE trainer_id = %s AND status = %s.
            models.Index(fields=["trainer", "status"], name="trainer_allocations_trainer_status_idx"),
            # The admin's newest-first list: ORDER BY created_at DESC, id DESC LIMIT n.
            models.Index(models.F("created_at").desc(), models.F("id").desc(), name="trainer_allocations_created_idx"),
            # The admin's status filter, newest first: WHERE status = %s ORDER BY created_at DESC, id DESC LIMIT n.
            models.Index(
                "status",
                models.F("created_at").desc(),
                models.F("id").desc(),
                name="trainer_allocations_status_created_idx",
            ),
            # Purchase history of allocations (including closed ones): WHERE purchase_id = %s.
            models.Index(fields=["purchase"], name="trainer_allocations_purchase_idx"),
        ]

    def __str__(self) -> str:
        return f"Allocation {self.pk} ({self.status})"
