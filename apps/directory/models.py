from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.indexes import OpClass
from django.db import models
from django.db.models.functions import Upper


class Person(models.Model):
    """What students and trainers share: who they are and the demo flag.

    Each declares its own `user` login, so that `user.student` and `user.trainer` keep
    the related names their migrations recorded.
    """

    full_name = models.CharField(max_length=200)
    email = models.EmailField(max_length=254)
    phone = models.CharField(max_length=32, blank=True)
    # Made by seed_demo: the seed reads, extends and allocates only these rows (see apps/demo/services.py).
    is_demo = models.BooleanField(default=False, db_default=False, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        ordering = ["full_name", "id"]

    def __str__(self) -> str:
        return f"{self.full_name} <{self.email}>"


class Student(Person):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        ARCHIVED = "archived", "Archived"

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    # The person's login, so their domain events reach their WebSockets (user.<id> group).
    # Unique index built concurrently in 0002.
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="student"
    )

    class Meta(Person.Meta):
        db_table = "students"
        constraints = [
            # One student per email, whatever its case; serves email__iexact, i.e. WHERE UPPER(email) = UPPER(%s).
            models.UniqueConstraint(Upper("email"), name="students_email_ci_uniq"),
        ]
        indexes = [
            # The admin's list by name: ORDER BY full_name, id LIMIT n.
            models.Index(fields=["full_name", "id"], name="students_full_name_id_idx"),
            # The admin's search by the start of a name or email: WHERE UPPER(full_name) LIKE 'ADA%' (or email).
            models.Index(OpClass(Upper("full_name"), name="text_pattern_ops"), name="students_name_prefix_idx"),
            models.Index(OpClass(Upper("email"), name="text_pattern_ops"), name="students_email_prefix_idx"),
        ]


class Course(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        RETIRED = "retired", "Retired"

    code = models.SlugField(max_length=40, unique=True)
    title = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    price = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3, default="EUR")
    sessions_per_purchase = models.PositiveSmallIntegerField(default=4)
    session_minutes = models.PositiveSmallIntegerField(default=60)
    # Made by seed_demo: the seed reads, extends and allocates only these rows (see apps/demo/services.py).
    is_demo = models.BooleanField(default=False, db_default=False, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "courses"
        ordering = ["title", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(sessions_per_purchase__gte=1), name="courses_sessions_per_purchase_positive"
            ),
            models.CheckConstraint(condition=models.Q(session_minutes__gte=15), name="courses_session_minutes_min"),
            models.CheckConstraint(condition=models.Q(price__gt=Decimal("0")), name="courses_price_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.code})"


class Trainer(Person):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        ON_LEAVE = "on_leave", "On leave"
        INACTIVE = "inactive", "Inactive"

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    # How many active allocations the trainer can carry at once.
    capacity = models.PositiveSmallIntegerField(default=10)
    courses = models.ManyToManyField(Course, related_name="trainers", db_table="trainer_courses", blank=True)
    # The person's login, so their domain events reach their WebSockets (user.<id> group).
    # Unique index built concurrently in 0002.
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="trainer"
    )

    class Meta(Person.Meta):
        db_table = "trainers"
        constraints = [
            # One trainer per email, whatever its case; serves WHERE UPPER(email) = UPPER(%s).
            models.UniqueConstraint(Upper("email"), name="trainers_email_ci_uniq"),
        ]
        indexes = [
            # The admin's list by name: ORDER BY full_name, id LIMIT n.
            models.Index(fields=["full_name", "id"], name="trainers_full_name_id_idx"),
            # The admin's search by the start of a name or email: WHERE UPPER(full_name) LIKE 'ADA%' (or email).
            models.Index(OpClass(Upper("full_name"), name="text_pattern_ops"), name="trainers_name_prefix_idx"),
            models.Index(OpClass(Upper("email"), name="text_pattern_ops"), name="trainers_email_prefix_idx"),
        ]
