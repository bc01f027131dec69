from __future__ import annotations

import pytest

from apps.payments.models import Payment
from apps.payments.selectors import payment_get_by_provider_id, payment_list_for_student
from tests.plans import indexes_used
from tests.seeded import seeded_platform  # noqa: F401

pytestmark = pytest.mark.django_db


def test_student_payments_by_status_use_the_student_status_created_index(seeded_platform):
    payment = Payment.objects.filter(status=Payment.Status.SUCCEEDED).first()

    query = payment_list_for_student(student_id=payment.student_id, status=Payment.Status.SUCCEEDED)

    assert "payments_student_status_created_idx" in indexes_used(query)
    assert payment in list(query)


def test_student_payments_come_newest_first(seeded_platform):
    student_id = Payment.objects.values_list("student_id", flat=True).first()

    created = [p.created_at for p in payment_list_for_student(student_id=student_id, status="succeeded")]

    assert created == sorted(created, reverse=True)


def test_webhook_lookup_by_provider_id_uses_the_unique_index(seeded_platform):
    payment = Payment.objects.exclude(provider_payment_id=None).first()

    query = Payment.objects.filter(provider_payment_id=payment.provider_payment_id)

    assert indexes_used(query) == {"payments_provider_payment_id_uniq"}
    assert payment_get_by_provider_id(provider_payment_id=payment.provider_payment_id) == payment
