from __future__ import annotations

import datetime

import factory
import pytest
from django.db import connection
from django.utils import timezone

from apps.directory.models import Student
from apps.payments.models import Payment
from apps.payments.selectors import (
    payment_get_by_idempotency_key,
    payment_get_by_provider_id,
    payment_get_in_flight,
    payment_get_paying_for_course,
    payment_list_for_student,
    payment_list_stuck,
)
from tests.factories import CourseFactory, PaymentFactory, PurchaseFactory, StudentFactory
from tests.support.plans import indexes_used, indexes_used_by

pytestmark = pytest.mark.django_db

# What `reconcile_payments` passes by default: untouched for five minutes, 500 per run.
RECONCILE_AFTER = datetime.timedelta(seconds=300)
LONG_AGO = datetime.datetime(2001, 1, 1, tzinfo=datetime.UTC)


def test_student_payments_by_status_use_the_student_status_created_index(seeded_platform):
    payment = Payment.objects.filter(status=Payment.Status.SUCCEEDED).first()

    query = payment_list_for_student(student_id=payment.student_id, status=Payment.Status.SUCCEEDED)

    assert "payments_student_status_created_idx" in indexes_used(query)
    assert payment in list(query)


def test_student_payments_come_newest_first(seeded_platform):
    student_id = Payment.objects.values_list("student_id", flat=True).first()

    created = [p.created_at for p in payment_list_for_student(student_id=student_id, status="succeeded")]

    assert created == sorted(created, reverse=True)


def test_the_webhook_lookup_by_provider_id_uses_the_unique_index(seeded_platform):
    payment = Payment.objects.exclude(provider_payment_id=None).first()

    used = indexes_used_by(lambda: payment_get_by_provider_id(provider_payment_id=payment.provider_payment_id))

    assert used == {"payments_provider_payment_id_uniq"}


def test_the_idempotency_key_lookup_uses_the_unique_index(seeded_platform):
    payment = Payment.objects.first()

    used = indexes_used_by(lambda: payment_get_by_idempotency_key(idempotency_key=payment.idempotency_key))

    assert used == {"payments_idempotency_key_uniq"}


def test_the_in_flight_lookup_uses_the_partial_unique_index(seeded_platform):
    # The demo seeds nothing in flight (reconciliation must find nothing): one payment waits on the provider here.
    settled = Payment.objects.filter(status=Payment.Status.FAILED).first()
    payment = PaymentFactory(student=settled.student, course=settled.course, status=Payment.Status.PENDING)
    with connection.cursor() as cursor:  # statistics as autovacuum would leave them (ANALYZE outlives a rollback)
        cursor.execute("ANALYZE payments")

    used = indexes_used_by(lambda: payment_get_in_flight(student_id=payment.student_id, course_id=payment.course_id))

    assert used == {"payments_student_course_in_flight_uniq"}


def test_the_already_paid_check_uses_the_student_and_payment_indexes(seeded_platform):
    payment = Payment.objects.filter(status=Payment.Status.SUCCEEDED).first()

    used = indexes_used_by(
        lambda: payment_get_paying_for_course(student_id=payment.student_id, course_id=payment.course_id)
    )

    # The planner may also AND in the course's foreign-key index; the student's index and the purchase lookup stay.
    assert {"payments_student_status_created_idx", "student_course_purchases_payment_uniq"} <= used


def test_reconciliation_finds_stuck_payments_through_the_in_flight_updated_index(seeded_platform):
    # The demo seeds nothing in flight: here 1,000 payments wait on the provider, some of them stuck for days.
    students = Student.objects.bulk_create(StudentFactory.build_batch(1000))
    course = CourseFactory()
    in_flight = PaymentFactory.build_batch(
        1000, student=factory.Iterator(students), course=course, status=Payment.Status.PENDING
    )
    Payment.objects.bulk_create(in_flight, batch_size=1000)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE payments SET updated_at = now() - (id % 10) * interval '1 day' WHERE status = 'pending'")
        cursor.execute("ANALYZE payments")

    used = indexes_used_by(lambda: payment_list_stuck(updated_before=timezone.now() - RECONCILE_AFTER, limit=500))

    assert used == {"payments_in_flight_updated_idx"}


def test_stuck_payments_are_the_in_flight_ones_unchanged_since_the_cutoff_longest_stuck_first():
    stuck_longest = PaymentFactory(status=Payment.Status.PENDING)
    stuck_created = PaymentFactory(status=Payment.Status.CREATED)
    settled = PaymentFactory(status=Payment.Status.SUCCEEDED)
    old_but_touched = PaymentFactory(status=Payment.Status.PENDING)
    for payment, updated_at in [(stuck_longest, 1), (stuck_created, 2), (settled, 1), (old_but_touched, 30)]:
        Payment.objects.filter(id=payment.id).update(
            created_at=LONG_AGO, updated_at=LONG_AGO + datetime.timedelta(days=updated_at)
        )

    stuck = payment_list_stuck(updated_before=LONG_AGO + datetime.timedelta(days=10))

    assert list(stuck) == [stuck_longest, stuck_created]


def test_stuck_payments_stop_at_the_limit():
    for _ in range(3):
        payment = PaymentFactory(status=Payment.Status.PENDING)
        Payment.objects.filter(id=payment.id).update(updated_at=LONG_AGO)

    assert len(payment_list_stuck(updated_before=LONG_AGO + datetime.timedelta(days=1), limit=2)) == 2


def test_the_admin_changelist_query_uses_the_created_index(seeded_platform):
    from django.contrib.admin.sites import site
    from django.test import RequestFactory

    from tests.factories import StaffUserFactory

    request = RequestFactory().get("/admin/payments/payment/")
    request.user = StaffUserFactory.build(is_superuser=True, is_staff=True)
    changelist = site._registry[Payment].get_changelist_instance(request)

    assert "payments_created_idx" in indexes_used(changelist.get_queryset(request)[:100])


def test_the_already_paid_check_reads_payments_and_purchases_in_one_statement(django_assert_num_queries):
    """Two reads would see two snapshots: a purchase committed between them hid from both (seen under make run)."""
    payment = PaymentFactory(status=Payment.Status.SUCCEEDED)

    with django_assert_num_queries(1):
        paid = payment_get_paying_for_course(student_id=payment.student_id, course_id=payment.course_id)

    assert (paid.payment_id, paid.active_purchase_id) == (payment.id, None)


def test_the_already_paid_check_names_the_active_purchase():
    purchase = PurchaseFactory()

    paid = payment_get_paying_for_course(student_id=purchase.student_id, course_id=purchase.course_id)

    assert (paid.payment_id, paid.active_purchase_id) == (purchase.payment_id, purchase.id)


def test_an_ended_purchase_no_longer_pays_for_the_course():
    purchase = PurchaseFactory(is_active=False)

    assert payment_get_paying_for_course(student_id=purchase.student_id, course_id=purchase.course_id) is None
