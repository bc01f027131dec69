from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from apps.directory.models import Course
from tests.factories import CourseFactory, StudentFactory, TrainerFactory

pytestmark = pytest.mark.django_db


def test_a_second_student_with_the_same_email_is_rejected():
    StudentFactory(email="ada@example.test")

    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        StudentFactory(email="ada@example.test")

    assert "students_email_ci_uniq" in str(excinfo.value)


def test_a_second_student_with_the_same_email_in_another_case_is_rejected():
    StudentFactory(email="ada@example.test")

    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        StudentFactory(email="Ada@Example.TEST")

    assert "students_email_ci_uniq" in str(excinfo.value)


def test_a_second_trainer_with_the_same_email_in_another_case_is_rejected():
    TrainerFactory(email="ben@example.test")

    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        TrainerFactory(email="BEN@example.test")

    assert "trainers_email_ci_uniq" in str(excinfo.value)


def test_a_second_course_with_the_same_code_is_rejected():
    CourseFactory(code="algebra-1")

    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        CourseFactory(code="algebra-1")

    assert "courses_code_key" in str(excinfo.value)


def test_a_course_with_no_sessions_per_purchase_is_rejected():
    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        CourseFactory(sessions_per_purchase=0)

    assert "courses_sessions_per_purchase_positive" in str(excinfo.value)


def test_a_course_with_sessions_shorter_than_15_minutes_is_rejected():
    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        CourseFactory(session_minutes=14)

    assert "courses_session_minutes_min" in str(excinfo.value)


def test_a_course_with_15_minute_sessions_is_accepted():
    course = CourseFactory(session_minutes=15)

    assert Course.objects.get(pk=course.pk).session_minutes == 15


@pytest.mark.parametrize("price", [Decimal("0.00"), Decimal("-1.00")])
def test_a_course_without_a_positive_price_is_rejected(price):
    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        CourseFactory(price=price)

    assert "courses_price_positive" in str(excinfo.value)


def test_repricing_a_course_to_zero_is_rejected():
    course = CourseFactory()

    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        Course.objects.filter(pk=course.pk).update(price=Decimal("0.00"))

    assert "courses_price_positive" in str(excinfo.value)
