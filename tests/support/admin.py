"""Shared steps for the admin tests (and bench/admin.py): count a page's queries, crawl what a list offers,
build many rows quickly."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urljoin

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


_FILTER_LINK = re.compile(r'<a href="(\?[^"]*)"')
_SORT_LINK = re.compile(r'<div class="text"><a href="(\?[^"]*)">')
_PAGE_LINK = re.compile(r'<a (?:class="end" )?href="(\?[^"]*p=\d+[^"]*)"')


def changelist_links(html: str, base: str) -> dict[str, list[str]]:
    """The URLs a changelist page offers, by kind: its sidebar's filter links, its column sort links, its page links."""
    sidebar = (
        html.split('id="changelist-filter"', 1)[1].split("</nav>", 1)[0] if 'id="changelist-filter"' in html else ""
    )
    paginator = html.split('class="paginator"', 1)[1].split("</p>", 1)[0] if 'class="paginator"' in html else ""
    found = {
        "filter": _FILTER_LINK.findall(sidebar),
        "sort": _SORT_LINK.findall(html),
        "page": _PAGE_LINK.findall(paginator),
    }
    return {kind: sorted({urljoin(base, unescape(link)) for link in links}) for kind, links in found.items()}


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
