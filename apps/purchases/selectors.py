from __future__ import annotations

from django.db.models import Q

from apps.purchases.models import StudentCoursePurchase


def purchase_list_for_payment_or_active(
    *, payment_id: int, student_id: int, course_id: int
) -> list[StudentCoursePurchase]:
    """The purchase a payment produced and the student's active purchase of the course: none, one (possibly
    both at once) or two. Runs one query (student_course_purchases_payment_uniq or
    student_course_purchases_active_uniq, each at most one row)."""
    produced = Q(payment_id=payment_id)
    active = Q(student_id=student_id, course_id=course_id, is_active=True)
    return list(StudentCoursePurchase.objects.filter(produced | active))


def purchase_get_for_payment(*, payment_id: int) -> StudentCoursePurchase | None:
    """The purchase a payment produced (student_course_purchases_payment_uniq). Runs one query."""
    return StudentCoursePurchase.objects.filter(payment_id=payment_id).first()
