from __future__ import annotations

import pytest

from apps.purchases.models import StudentCoursePurchase
from apps.purchases.selectors import purchase_get_active, purchase_list_for_student
from tests.support.plans import indexes_used

pytestmark = pytest.mark.django_db


def test_active_purchase_lookup_uses_the_partial_unique_index(seeded_platform):
    purchase = StudentCoursePurchase.objects.filter(is_active=True).first()

    query = StudentCoursePurchase.objects.filter(
        student_id=purchase.student_id, course_id=purchase.course_id, is_active=True
    )

    assert indexes_used(query) == {"student_course_purchases_active_uniq"}
    assert purchase_get_active(student_id=purchase.student_id, course_id=purchase.course_id) == purchase


def test_purchase_history_uses_the_student_created_index(seeded_platform):
    student_id = StudentCoursePurchase.objects.values_list("student_id", flat=True).first()

    query = purchase_list_for_student(student_id=student_id)

    assert "student_course_purchases_student_created_idx" in indexes_used(query)
    created = [purchase.created_at for purchase in query]
    assert created and created == sorted(created, reverse=True)
