"""The pipeline's steps lock only the row they serialise on: inserts that reference its neighbours go on meanwhile."""

from __future__ import annotations

import threading

import pytest
from django.db import OperationalError, connection, transaction

from apps.purchases.services import purchase_create_from_payment
from apps.tutoring.services import session_schedule_for_allocation
from tests.factories import AllocationFactory, PaymentFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _key_share_from_another_connection(table: str, row_id: int) -> str:
    """What an insert referencing the row does first (FOR KEY SHARE), without waiting: "free" or "locked"."""
    outcome: list[str] = []

    def probe() -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"SELECT 1 FROM {table} WHERE id = %s FOR KEY SHARE NOWAIT", [row_id])
            outcome.append("free")
        except OperationalError:
            outcome.append("locked")
        finally:
            connection.close()

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join(timeout=10)
    return outcome[0]


def test_scheduling_sessions_leaves_the_course_free_for_other_allocations():
    allocation = AllocationFactory()

    with transaction.atomic():
        session_schedule_for_allocation(allocation_id=allocation.id)
        course = _key_share_from_another_connection("courses", allocation.course_id)
        own = _key_share_from_another_connection("trainer_allocations", allocation.id)

    assert (course, own) == ("free", "locked")


def test_creating_a_purchase_leaves_the_student_free_for_other_payments():
    payment = PaymentFactory(status="succeeded")

    with transaction.atomic():
        purchase_create_from_payment(payment_id=payment.id)
        student = _key_share_from_another_connection("students", payment.student_id)
        own = _key_share_from_another_connection("payments", payment.id)

    assert (student, own) == ("free", "locked")
