from __future__ import annotations

from django.db.models import QuerySet

from apps.purchases.models import StudentCoursePurchase


def purchase_get_active(*, student_id: int, course_id: int) -> StudentCoursePurchase | None:
    """The student's active purchase of a course (student_course_purchases_active_uniq). Runs one query."""
    return StudentCoursePurchase.objects.filter(student_id=student_id, course_id=course_id, is_active=True).first()


def purchase_list_for_student(*, student_id: int, limit: int = 50) -> QuerySet[StudentCoursePurchase]:
    """A student's purchase history, newest first (student_course_purchases_student_created_idx)."""
    return StudentCoursePurchase.objects.filter(student_id=student_id).order_by("-created_at")[:limit]
