"""Factories for the domain models: every test builds its data through these."""

from __future__ import annotations

import datetime
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model

from apps.allocations.models import TrainerAllocation
from apps.directory.models import Course, Student, Trainer
from apps.payments.models import Payment
from apps.purchases.models import StudentCoursePurchase
from apps.tutoring.models import TutoringSession


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.test")
    password = factory.django.Password("correct horse battery staple")


class StaffUserFactory(UserFactory):
    is_staff = True
    is_superuser = True


class StudentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Student

    full_name = factory.Sequence(lambda n: f"Student {n}")
    email = factory.Sequence(lambda n: f"student{n}@example.test")


class CourseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Course

    code = factory.Sequence(lambda n: f"course-{n}")
    title = factory.Sequence(lambda n: f"Course {n}")
    price = Decimal("240.00")


class TrainerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Trainer

    full_name = factory.Sequence(lambda n: f"Trainer {n}")
    email = factory.Sequence(lambda n: f"trainer{n}@example.test")
    capacity = 10


class PaymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Payment

    student = factory.SubFactory(StudentFactory)
    course = factory.SubFactory(CourseFactory)
    amount = Decimal("240.00")
    currency = "EUR"
    status = Payment.Status.SUCCEEDED
    idempotency_key = factory.Sequence(lambda n: f"key-{n}")


class PurchaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StudentCoursePurchase

    payment = factory.SubFactory(PaymentFactory)
    student = factory.SelfAttribute("payment.student")
    course = factory.SelfAttribute("payment.course")


class AllocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TrainerAllocation

    purchase = factory.SubFactory(PurchaseFactory)
    student = factory.SelfAttribute("purchase.student")
    course = factory.SelfAttribute("purchase.course")
    trainer = factory.SubFactory(TrainerFactory)
    status = TrainerAllocation.Status.ACTIVE


class SessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TutoringSession

    allocation = factory.SubFactory(AllocationFactory)
    student = factory.SelfAttribute("allocation.student")
    trainer = factory.SelfAttribute("allocation.trainer")
    course = factory.SelfAttribute("allocation.course")
    scheduled_date = factory.Sequence(lambda n: datetime.date(2026, 1, 1) + datetime.timedelta(days=n))
    scheduled_time = datetime.time(10, 0)
