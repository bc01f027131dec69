from __future__ import annotations

from django.db import models

from apps.directory.models import Course, Student
from apps.payments.models import Payment


class StudentCoursePurchase(models.Model):
    # Student lookups are served by the two student-leading indexes below.
    student = models.ForeignKey(Student, on_delete=models.PROTECT, related_name="purchases", db_index=False)
    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="purchases")
    # One purchase per payment (student_course_purchases_payment_uniq) keeps the pipeline idempotent.
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="purchases", db_index=False)
    is_active = models.BooleanField(default=True)
    # Made by seed_demo: the seed reads, extends and allocates only these rows (see apps/demo/services.py).
    is_demo = models.BooleanField(default=False, db_default=False, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "student_course_purchases"
        ordering = ["-created_at", "-id"]
        constraints = [
            # Access check: WHERE student_id = %s AND course_id = %s AND is_active; at most one active purchase.
            models.UniqueConstraint(
                fields=["student", "course"],
                condition=models.Q(is_active=True),
                name="student_course_purchases_active_uniq",
            ),
            # Pipeline step "payment succeeded -> purchase": WHERE payment_id = %s; never two purchases per payment.
            models.UniqueConstraint(fields=["payment"], name="student_course_purchases_payment_uniq"),
        ]
        indexes = [
            # A student's purchase history, newest first: WHERE student_id = %s ORDER BY created_at DESC.
            models.Index("student", models.F("created_at").desc(), name="student_course_purchases_student_created_idx"),
            # The admin's newest-first list: ORDER BY created_at DESC, id DESC LIMIT n.
            models.Index(
                models.F("created_at").desc(), models.F("id").desc(), name="student_course_purchases_created_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"Purchase {self.pk} student={self.student_id} course={self.course_id}"
