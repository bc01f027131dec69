from __future__ import annotations

import pytest
from django.db import transaction

from apps.purchases.models import StudentCoursePurchase
from apps.purchases.selectors import (
    PaymentToPurchase,
    purchase_get_for_payment,
    purchase_list_for_payment_or_active,
    purchase_lock_payment,
)
from tests.factories import PaymentFactory, PurchaseFactory
from tests.support.plans import indexes_used_by

pytestmark = pytest.mark.django_db


def test_the_payment_or_active_purchase_lookup_uses_both_unique_indexes(seeded_platform):
    purchase = StudentCoursePurchase.objects.filter(is_active=True).first()

    used = indexes_used_by(
        lambda: purchase_list_for_payment_or_active(
            payment_id=purchase.payment_id, student_id=purchase.student_id, course_id=purchase.course_id
        )
    )

    assert used == {"student_course_purchases_payment_uniq", "student_course_purchases_active_uniq"}


def test_the_payment_or_active_purchase_lookup_finds_the_payments_purchase_and_the_other_active_one():
    earlier = PurchaseFactory()
    inactive = PurchaseFactory(student=earlier.student, course=earlier.course, is_active=False)
    payment = PaymentFactory(student=earlier.student, course=earlier.course)

    found = purchase_list_for_payment_or_active(
        payment_id=inactive.payment_id, student_id=payment.student_id, course_id=payment.course_id
    )
    nothing = purchase_list_for_payment_or_active(
        payment_id=payment.id, student_id=payment.student_id, course_id=PurchaseFactory().course_id
    )

    assert sorted(purchase.id for purchase in found) == sorted([earlier.id, inactive.id])
    assert nothing == []


def test_locking_a_payment_reads_its_student_status():
    payment = PaymentFactory(student__status="paused")

    with transaction.atomic():
        locked = purchase_lock_payment(payment_id=payment.id)
        missing = purchase_lock_payment(payment_id=0)

    assert locked == PaymentToPurchase(
        status=payment.status, student_id=payment.student_id, course_id=payment.course_id, student_status="paused"
    )
    assert missing is None


def test_the_purchase_of_a_payment_is_found_through_the_payment_unique_index(seeded_platform):
    purchase = StudentCoursePurchase.objects.first()

    used = indexes_used_by(lambda: purchase_get_for_payment(payment_id=purchase.payment_id))

    assert used == {"student_course_purchases_payment_uniq"}
    assert purchase_get_for_payment(payment_id=purchase.payment_id) == purchase
