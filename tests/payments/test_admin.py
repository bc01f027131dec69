from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from apps.outbox.models import OutboxMessage
from apps.payments.models import Payment
from tests.factories import CourseFactory, PaymentFactory, StudentFactory
from tests.support.admin import changelist_query_count

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:payments_payment_changelist"


def test_the_payment_changelist_runs_as_many_queries_for_500_payments_as_for_10(staff_client):
    url = reverse(CHANGELIST)
    PaymentFactory.create_batch(10)
    queries_for_10 = changelist_query_count(staff_client, url)
    student, course = StudentFactory(), CourseFactory()
    Payment.objects.bulk_create(PaymentFactory.build_batch(490, student=student, course=course))

    queries_for_500 = changelist_query_count(staff_client, url)

    assert queries_for_500 == queries_for_10


@pytest.mark.parametrize("query", ["ada.abara@example.test", "Ada.Abara@Example.test"])
def test_a_payment_can_be_found_by_its_students_email(staff_client, query):
    payment = PaymentFactory(student=StudentFactory(email="ada.abara@example.test"))
    other = PaymentFactory(student=StudentFactory(email="ben.berg@example.test"))

    response = staff_client.get(reverse(CHANGELIST), {"q": query})

    assert response.status_code == 200
    assert reverse("admin:payments_payment_change", args=[payment.pk]) in response.content.decode()
    assert reverse("admin:payments_payment_change", args=[other.pk]) not in response.content.decode()


def test_a_payment_can_be_found_by_its_id(staff_client):
    payment = PaymentFactory()
    other = PaymentFactory()

    response = staff_client.get(reverse(CHANGELIST), {"q": str(payment.pk)})

    assert response.status_code == 200
    assert reverse("admin:payments_payment_change", args=[payment.pk]) in response.content.decode()
    assert reverse("admin:payments_payment_change", args=[other.pk]) not in response.content.decode()


def _change_status(staff_client, payment: Payment, status: str):
    return staff_client.post(
        reverse(CHANGELIST),
        {"action": "change_status", "status": status, "_selected_action": [payment.pk], "index": 0},
        follow=True,
    )


def test_an_operator_refunds_a_payment_through_the_state_machine_and_is_named_in_its_history(staff_client):
    payment = PaymentFactory(status="succeeded")

    _change_status(staff_client, payment, "refunded")

    payment.refresh_from_db()
    entry = LogEntry.objects.get(object_id=str(payment.pk))
    assert payment.status == "refunded"
    assert str(entry.user_id) == staff_client.session["_auth_user_id"]
    assert "refunded" in entry.get_change_message()
    assert OutboxMessage.objects.filter(task_name="payments.invalidate_student_cache").exists()  # payment_settle ran


def test_a_status_change_the_state_machine_forbids_is_refused_with_the_reason(staff_client):
    payment = PaymentFactory(status="failed")

    response = _change_status(staff_client, payment, "succeeded")

    payment.refresh_from_db()
    assert payment.status == "failed"
    assert "A failed payment cannot become succeeded." in response.content.decode()
    assert not LogEntry.objects.exists()
