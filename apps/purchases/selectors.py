from __future__ import annotations

from apps.purchases.models import StudentCoursePurchase


def purchase_get_active(*, student_id: int, course_id: int) -> StudentCoursePurchase | None:
    """The student's active purchase of a course (student_course_purchases_active_uniq). Runs one query."""
    return StudentCoursePurchase.objects.filter(student_id=student_id, course_id=course_id, is_active=True).first()


def purchase_get_for_payment(*, payment_id: int) -> StudentCoursePurchase | None:
    """The purchase a payment produced (student_course_purchases_payment_uniq). Runs one query."""
    return StudentCoursePurchase.objects.filter(payment_id=payment_id).first()
