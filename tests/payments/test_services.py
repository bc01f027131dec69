"""Payment status changes and the student's cached payment lists: every change invalidates every list."""

from __future__ import annotations

import pytest

from apps.outbox.models import OutboxMessage
from apps.payments.models import Payment
from apps.payments.provider import ProviderUnavailable
from apps.payments.selectors import payment_list_for_student_cached
from apps.payments.services import payment_charge, payment_settle
from apps.payments.tasks import payments_invalidate_student_cache
from apps.workers.models import DeadLetter
from apps.workers.retry import ReliableTask
from tests.factories import PaymentFactory

pytestmark = pytest.mark.django_db


def _listed(payment: Payment, status: str) -> list[int]:
    return [row["id"] for row in payment_list_for_student_cached(student_id=payment.student_id, status=status)]


def _run_handed_off_invalidations() -> None:
    """What the cache worker does with the invalidations the test's transaction wrote to the outbox."""
    for (student_id,) in OutboxMessage.objects.filter(task_name="payments.invalidate_student_cache").values_list(
        "args", flat=True
    ):
        payments_invalidate_student_cache(student_id)


def test_a_refund_invalidates_the_students_cached_lists():
    payment = PaymentFactory(status=Payment.Status.SUCCEEDED)
    assert _listed(payment, "succeeded") == [payment.id]

    payment_settle(payment_id=payment.id, status=Payment.Status.REFUNDED)
    _run_handed_off_invalidations()

    assert _listed(payment, "succeeded") == []
    assert _listed(payment, "refunded") == [payment.id]


def test_a_failed_payment_invalidates_the_students_cached_lists():
    payment = PaymentFactory(status=Payment.Status.PENDING)
    assert _listed(payment, "pending") == [payment.id]

    payment_settle(payment_id=payment.id, status=Payment.Status.FAILED)
    _run_handed_off_invalidations()

    assert _listed(payment, "pending") == []
    assert _listed(payment, "failed") == [payment.id]


def test_a_succeeded_payment_invalidates_the_students_cached_lists():
    payment = PaymentFactory(status=Payment.Status.PENDING)
    assert _listed(payment, "succeeded") == []

    payment_settle(payment_id=payment.id, status=Payment.Status.SUCCEEDED)
    _run_handed_off_invalidations()

    assert _listed(payment, "succeeded") == [payment.id]


@pytest.mark.slow  # the sandbox provider is a process
def test_claiming_a_payment_for_its_charge_invalidates_the_students_cached_lists(provider):
    provider.set_mode("error")  # the charge fails: the payment stays pending after the claim
    payment = PaymentFactory(status=Payment.Status.CREATED)
    assert _listed(payment, "created") == [payment.id]

    with pytest.raises(ProviderUnavailable):
        payment_charge(payment_id=payment.id)
    _run_handed_off_invalidations()

    assert _listed(payment, "created") == []
    assert _listed(payment, "pending") == [payment.id]


def test_settling_to_the_same_status_again_hands_off_nothing():
    payment = PaymentFactory(status=Payment.Status.SUCCEEDED)

    payment_settle(payment_id=payment.id, status=Payment.Status.SUCCEEDED)

    assert not OutboxMessage.objects.exists()


def test_the_invalidation_runs_under_the_retry_and_dead_letter_policy():
    assert isinstance(payments_invalidate_student_cache._get_current_object(), ReliableTask)

    payments_invalidate_student_cache("seven")

    letter = DeadLetter.objects.get()
    assert (letter.task_name, letter.reason, letter.args) == (
        "payments.invalidate_student_cache",
        "validation",
        ["seven"],
    )
