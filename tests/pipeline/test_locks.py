"""The pipeline's steps lock only the row they serialise on: inserts that reference its neighbours go on meanwhile."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import OperationalError, connection, transaction

from apps.allocations.models import TrainerAllocation
from apps.allocations.services import allocation_assign_trainer
from apps.purchases.services import purchase_create_from_payment
from apps.tutoring.services import session_schedule_for_allocation
from tests.factories import AllocationFactory, CourseFactory, PaymentFactory, PurchaseFactory, TrainerFactory

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


@contextmanager
def _held_by_another_connection(table: str, row_id: int) -> Iterator[threading.Event]:
    """The row locked FOR UPDATE by another connection (an allocator mid-transaction) until the event is set."""
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"SELECT 1 FROM {table} WHERE id = %s FOR UPDATE", [row_id])
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=hold)
    thread.start()
    assert locked.wait(10), "the other connection did not lock the row"
    try:
        yield release
    finally:
        release.set()
        thread.join(timeout=10)


def _course_taught_by(count: int):  # type: ignore[no-untyped-def]
    course = CourseFactory()
    trainers = [TrainerFactory(capacity=5) for _ in range(count)]
    for trainer in trainers:
        trainer.courses.add(course)
    return course, trainers


def test_an_allocator_passes_over_a_trainer_another_allocator_holds():
    course, (least_loaded, next_one) = _course_taught_by(2)
    purchase = PurchaseFactory(course=course)

    with _held_by_another_connection("trainers", least_loaded.id):
        allocation_id = allocation_assign_trainer(purchase_id=purchase.id)

    assert TrainerAllocation.objects.get(id=allocation_id).trainer_id == next_one.id


def test_an_allocator_waits_for_a_held_trainer_when_no_free_one_has_room():
    course, (only,) = _course_taught_by(1)
    purchase = PurchaseFactory(course=course)

    with _held_by_another_connection("trainers", only.id) as release:
        threading.Timer(0.3, release.set).start()
        allocation_id = allocation_assign_trainer(purchase_id=purchase.id)

    assert TrainerAllocation.objects.get(id=allocation_id).trainer_id == only.id


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
