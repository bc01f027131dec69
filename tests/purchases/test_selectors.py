from __future__ import annotations

import pytest

from apps.purchases.models import StudentCoursePurchase
from apps.purchases.selectors import purchase_get_active, purchase_get_for_payment
from tests.support.plans import indexes_used_by

pytestmark = pytest.mark.django_db


def test_the_active_purchase_lookup_uses_the_partial_unique_index(seeded_platform):
    purchase = StudentCoursePurchase.objects.filter(is_active=True).first()

    used = indexes_used_by(lambda: purchase_get_active(student_id=purchase.student_id, course_id=purchase.course_id))

    assert used == {"student_course_purchases_active_uniq"}


def test_the_purchase_of_a_payment_is_found_through_the_payment_unique_index(seeded_platform):
    purchase = StudentCoursePurchase.objects.first()

    used = indexes_used_by(lambda: purchase_get_for_payment(payment_id=purchase.payment_id))

    assert used == {"student_course_purchases_payment_uniq"}
    assert purchase_get_for_payment(payment_id=purchase.payment_id) == purchase
