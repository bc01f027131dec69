from __future__ import annotations

import pytest

from apps.payments.models import Payment
from apps.payments.selectors import (
    payment_get_by_provider_id,
    payment_list_for_student,
    payment_list_recent,
    payment_list_stuck,
)
from tests.support.plans import indexes_used

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


def test_stuck_payments_are_found_through_the_status_created_index(seeded_platform):
    cutoff = Payment.objects.order_by("-created_at").values_list("created_at", flat=True)[100]

    query = payment_list_stuck(status=Payment.Status.PENDING, older_than=cutoff)

    assert indexes_used(query) == {"payments_status_created_idx"}
    assert all(p.status == "pending" and p.created_at < cutoff for p in query)


def test_the_newest_first_list_of_all_payments_uses_the_created_index(seeded_platform):
    query = payment_list_recent(limit=100)

    assert indexes_used(query) == {"payments_created_idx"}


def test_the_admin_changelist_query_uses_the_created_index(seeded_platform):
    from django.contrib.admin.sites import site
    from django.test import RequestFactory

    from tests.factories import StaffUserFactory

    request = RequestFactory().get("/admin/payments/payment/")
    request.user = StaffUserFactory.build(is_superuser=True, is_staff=True)
    changelist = site._registry[Payment].get_changelist_instance(request)

    assert "payments_created_idx" in indexes_used(changelist.get_queryset(request)[:100])
