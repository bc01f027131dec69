from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from apps.payments.models import Payment
from tests.factories import CourseFactory, PaymentFactory, StudentFactory

pytestmark = pytest.mark.django_db


def test_two_payments_without_a_provider_payment_id_are_accepted():
    PaymentFactory(provider_payment_id=None)

    PaymentFactory(provider_payment_id=None)

    assert Payment.objects.filter(provider_payment_id=None).count() == 2


def test_a_second_payment_with_the_same_provider_payment_id_is_rejected():
    PaymentFactory(provider_payment_id="pi_123")

    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        PaymentFactory(provider_payment_id="pi_123")

    assert "payments_provider_payment_id_uniq" in str(excinfo.value)


def test_recording_a_provider_payment_id_already_taken_by_another_payment_is_rejected():
    PaymentFactory(provider_payment_id="pi_123")
    payment = PaymentFactory(provider_payment_id=None)

    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        Payment.objects.filter(pk=payment.pk).update(provider_payment_id="pi_123")

    assert "payments_provider_payment_id_uniq" in str(excinfo.value)


def test_a_second_payment_with_the_same_idempotency_key_is_rejected():
    student, course = StudentFactory(), CourseFactory()
    PaymentFactory(student=student, course=course, idempotency_key="checkout-1")

    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        PaymentFactory(student=student, course=course, idempotency_key="checkout-1")

    assert "payments_idempotency_key_uniq" in str(excinfo.value)


@pytest.mark.parametrize("amount", [Decimal("0.00"), Decimal("-240.00")])
def test_a_payment_without_a_positive_amount_is_rejected(amount):
    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        PaymentFactory(amount=amount)

    assert "payments_amount_positive" in str(excinfo.value)


@pytest.mark.parametrize("currency", ["eur", "Eur", "EU", "E1R", ""])
def test_a_payment_whose_currency_is_not_three_capital_letters_is_rejected(currency):
    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        PaymentFactory(currency=currency)

    assert "payments_currency_iso4217" in str(excinfo.value)


def test_a_payment_with_an_unknown_status_is_rejected():
    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        PaymentFactory(status="settled")

    assert "payments_status_valid" in str(excinfo.value)


def test_moving_a_payment_to_an_unknown_status_is_rejected():
    payment = PaymentFactory()

    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        Payment.objects.filter(pk=payment.pk).update(status="SUCCEEDED")

    assert "payments_status_valid" in str(excinfo.value)
