from __future__ import annotations

import datetime

from django.db.models import Exists, OuterRef, QuerySet

from apps.allocations.models import TrainerAllocation
from apps.purchases.models import StudentCoursePurchase


def purchase_get_active(*, student_id: int, course_id: int) -> StudentCoursePurchase | None:
    """The student's active purchase of a course (student_course_purchases_active_uniq). Runs one query."""
    return StudentCoursePurchase.objects.filter(student_id=student_id, course_id=course_id, is_active=True).first()


def purchase_get_for_payment(*, payment_id: int) -> StudentCoursePurchase | None:
    """The purchase a payment produced (student_course_purchases_payment_uniq). Runs one query."""
    return StudentCoursePurchase.objects.filter(payment_id=payment_id).first()


def purchase_list_active_without_allocation(*, created_before: datetime.datetime) -> QuerySet[StudentCoursePurchase]:
    """Active purchases made before `created_before` that have no allocation: the pipeline's lost allocation
    hand-offs (trainer_allocations_purchase_idx for the NOT EXISTS). Unordered and unsliced, for the caller to
    annotate."""
    return StudentCoursePurchase.objects.filter(is_active=True, created_at__lt=created_before).exclude(
        Exists(TrainerAllocation.objects.filter(purchase_id=OuterRef("id")))
    )
