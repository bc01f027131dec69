"""Reconciliation reads the provider's record of a payment in flight and never makes a charge.

A charge the provider has settles the payment; none after PAYMENT_EXPIRE_AFTER expires it.
"""

from __future__ import annotations

import datetime
import uuid

import pytest
import requests
from django.utils import timezone

from apps.payments.models import Payment
from apps.payments.services import payment_expire, payment_reconcile_stuck
from tests.factories import PaymentFactory

pytestmark = pytest.mark.django_db

LONG_AGO = timezone.now() - datetime.timedelta(days=1)
A_MINUTE = datetime.timedelta(minutes=1)


def _stuck(status: str, *, since: datetime.datetime = LONG_AGO) -> Payment:
    payment = PaymentFactory(status=status, idempotency_key=f"reconcile-{uuid.uuid4().hex}")
    Payment.objects.filter(id=payment.id).update(updated_at=since)
    return payment


def _charge_at_provider(provider, payment: Payment) -> dict:
    """The charge as the console's own request would have made it."""
    response = requests.post(
        f"{provider.url}/v1/charges",
        json={"amount": str(payment.amount), "currency": payment.currency, "reference": f"payment:{payment.id}"},
        headers={"Idempotency-Key": payment.idempotency_key},
        timeout=5,
    )
    response.raise_for_status()
    return response.json()


@pytest.mark.slow
def test_a_pending_payment_is_settled_from_the_providers_record_without_a_second_charge(provider):
    payment = _stuck("pending")
    charge = _charge_at_provider(provider, payment)

    summary = payment_reconcile_stuck(older_than=A_MINUTE)

    payment.refresh_from_db()
    assert (payment.status, payment.provider_payment_id) == ("succeeded", charge["id"])
    assert (summary.settled, summary.expired) == (1, 0)
    assert provider.requests_to("POST", "/v1/charges") == 1  # the test's own


@pytest.mark.slow
def test_a_created_payment_that_crashed_before_its_charge_is_settled_when_the_provider_has_one(provider):
    payment = _stuck("created")
    _charge_at_provider(provider, payment)

    payment_reconcile_stuck(older_than=A_MINUTE)

    payment.refresh_from_db()
    assert payment.status == "succeeded"


@pytest.mark.slow
def test_reconciliation_never_charges_a_payment_the_provider_has_not_seen(provider, settings):
    settings.PAYMENT_EXPIRE_AFTER = 3600
    created, pending = _stuck("created", since=timezone.now() - 2 * A_MINUTE), _stuck("pending")

    summary = payment_reconcile_stuck(older_than=A_MINUTE)

    assert provider.requests_to("POST", "/v1/charges") == 0
    assert provider.stats()["charges_created"] == 0
    assert Payment.objects.get(id=created.id).status == "created"  # younger than PAYMENT_EXPIRE_AFTER: it waits
    assert Payment.objects.get(id=pending.id).status == "expired"
    assert (summary.examined, summary.expired, summary.still_pending) == (2, 1, 1)


@pytest.mark.slow
def test_a_created_payment_the_provider_never_saw_expires_after_the_timeout(provider, settings):
    settings.PAYMENT_EXPIRE_AFTER = 600
    payment = _stuck("created", since=timezone.now() - datetime.timedelta(minutes=11))

    payment_reconcile_stuck(older_than=A_MINUTE)

    assert Payment.objects.get(id=payment.id).status == "expired"
    assert provider.requests_to("GET", "/v1/charges") == 1
    assert provider.stats()["charges_created"] == 0


@pytest.mark.slow
def test_a_provider_that_cannot_answer_expires_nothing(provider):
    payment = _stuck("created")
    provider.set_mode("error")

    summary = payment_reconcile_stuck(older_than=A_MINUTE)

    assert Payment.objects.get(id=payment.id).status == "created"
    assert summary.still_pending == 1


def test_a_payment_that_changed_after_the_cutoff_is_not_expired():
    payment = _stuck("pending", since=timezone.now())

    expired = payment_expire(payment_id=payment.id, unchanged_since=timezone.now() - A_MINUTE)

    assert not expired
    assert Payment.objects.get(id=payment.id).status == "pending"


def test_a_settled_payment_is_never_expired():
    payment = _stuck("succeeded")

    assert not payment_expire(payment_id=payment.id, unchanged_since=timezone.now())
    assert Payment.objects.get(id=payment.id).status == "succeeded"


def test_an_expired_payment_can_only_become_succeeded_when_the_provider_reports_a_charge():
    payment = _stuck("pending")
    payment_expire(payment_id=payment.id, unchanged_since=timezone.now())

    expired = Payment.objects.get(id=payment.id)
    assert expired.status == "expired"
    assert [status for status in ("created", "pending", "failed", "refunded") if expired.can_become(status)] == []
    assert expired.can_become("succeeded")
