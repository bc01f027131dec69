"""Shared steps for the admin tests: count a page's queries, build many rows quickly."""

from __future__ import annotations

import factory
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.directory.models import Student
from apps.payments.models import Payment
from apps.purchases.models import StudentCoursePurchase
from tests.factories import CourseFactory, PaymentFactory, PurchaseFactory, StudentFactory


def changelist_query_count(client: Client, url: str) -> int:
    """GET url and return how many SQL queries the request ran; fails unless it answered 200."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    if response.status_code != 200:
        raise AssertionError(f"GET {url} answered {response.status_code}, expected 200")
    return len(queries)


def purchases_bulk_create(count: int) -> list[StudentCoursePurchase]:
    """`count` active purchases of one course, each by a new student with its own payment. Runs four INSERTs."""
    course = CourseFactory()
    students = Student.objects.bulk_create(StudentFactory.build_batch(count))
    payments = Payment.objects.bulk_create(
        PaymentFactory.build_batch(count, student=factory.Iterator(students), course=course)
    )
    return StudentCoursePurchase.objects.bulk_create(
        PurchaseFactory.build_batch(count, payment=factory.Iterator(payments))
    )
