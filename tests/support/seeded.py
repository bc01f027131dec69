"""A seeded, analysed platform shared by a module's query-plan tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection

from apps.demo.services import DemoScale, demo_platform_seed

DOMAIN_TABLES = (
    "tutoring_sessions, trainer_allocations, student_course_purchases, payments, trainer_courses, "
    "trainers, students, courses"
)


def truncate_domain_tables() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {DOMAIN_TABLES} RESTART IDENTITY CASCADE")


@pytest.fixture(scope="module")
def seeded_platform(django_db_setup, django_db_blocker) -> Iterator[None]:
    """20,000 payments and everything that follows from them, ANALYZEd; removed afterwards."""
    with django_db_blocker.unblock():
        demo_platform_seed(scale=DemoScale.for_payments(20_000))
        try:
            yield
        finally:
            truncate_domain_tables()
