from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from apps.purchases.models import StudentCoursePurchase
from tests.factories import PaymentFactory, PurchaseFactory

pytestmark = pytest.mark.django_db


def test_a_second_active_purchase_of_the_same_course_is_rejected():
    first = PurchaseFactory()
    payment = PaymentFactory(student=first.student, course=first.course)

    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        PurchaseFactory(payment=payment)

    assert "student_course_purchases_active_uniq" in str(excinfo.value)


def test_an_inactive_purchase_of_a_course_already_bought_is_accepted():
    first = PurchaseFactory()
    payment = PaymentFactory(student=first.student, course=first.course)

    PurchaseFactory(payment=payment, is_active=False)

    assert StudentCoursePurchase.objects.filter(student=first.student, course=first.course).count() == 2


def test_a_new_active_purchase_after_the_first_is_deactivated_is_accepted():
    first = PurchaseFactory()
    StudentCoursePurchase.objects.filter(pk=first.pk).update(is_active=False)
    payment = PaymentFactory(student=first.student, course=first.course)

    second = PurchaseFactory(payment=payment)

    assert StudentCoursePurchase.objects.get(student=first.student, course=first.course, is_active=True) == second


def test_reactivating_an_old_purchase_beside_an_active_one_is_rejected():
    old = PurchaseFactory(is_active=False)
    PurchaseFactory(payment=PaymentFactory(student=old.student, course=old.course))

    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        StudentCoursePurchase.objects.filter(pk=old.pk).update(is_active=True)

    assert "student_course_purchases_active_uniq" in str(excinfo.value)


def test_the_same_course_bought_by_two_students_is_accepted():
    first = PurchaseFactory()

    second = PurchaseFactory(payment=PaymentFactory(course=first.course))

    assert second.course == first.course


def test_a_second_purchase_from_the_same_payment_is_rejected():
    first = PurchaseFactory()

    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        PurchaseFactory(payment=first.payment, is_active=False)

    assert "student_course_purchases_payment_uniq" in str(excinfo.value)
