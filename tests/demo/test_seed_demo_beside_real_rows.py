"""The seed beside real rows: it reads, assigns and schedules only what it made itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.db.models import Count, Q
from django.utils import timezone

from apps.allocations.models import TrainerAllocation
from apps.demo.services import DemoScale, demo_platform_seed
from apps.directory.models import Course, Student, Trainer
from apps.payments.models import Payment
from apps.purchases.models import StudentCoursePurchase
from apps.tutoring.models import TutoringSession
from tests.factories import (
    AllocationFactory,
    CourseFactory,
    PaymentFactory,
    PurchaseFactory,
    StudentFactory,
    TrainerFactory,
)

pytestmark = pytest.mark.django_db

SCALE = DemoScale.for_payments(400)
MODELS = (Course, Student, Trainer, Payment, StudentCoursePurchase, TrainerAllocation, TutoringSession)


@dataclass(frozen=True)
class RealRows:
    student: Student
    trainer: Trainer
    courses: tuple[Course, Course]
    allocated: StudentCoursePurchase
    unallocated: StudentCoursePurchase


@pytest.fixture
def real() -> RealRows:
    """A real student with two paid courses; one is with a real trainer who has room for just one more."""
    student = StudentFactory()
    courses = (CourseFactory(code="music-theory"), CourseFactory(code="harmony"))
    trainer = TrainerFactory(capacity=2)
    trainer.courses.set(courses)
    allocated = PurchaseFactory(payment=PaymentFactory(student=student, course=courses[0]))
    AllocationFactory(purchase=allocated, trainer=trainer, allocated_at=timezone.now())
    unallocated = PurchaseFactory(payment=PaymentFactory(student=student, course=courses[1]))
    return RealRows(student, trainer, courses, allocated, unallocated)


def _rows(model: type, ids: list[int]) -> list[dict[str, Any]]:
    return list(model.objects.filter(id__in=ids).order_by("id").values())


def _snapshot(real: RealRows) -> dict[str, Any]:
    """Every real row, field by field, and every demo row that hangs off one of them."""
    return {
        "students": _rows(Student, [real.student.id]),
        "trainers": _rows(Trainer, [real.trainer.id]),
        "courses": _rows(Course, [course.id for course in real.courses]),
        "trainer_courses": sorted(real.trainer.courses.values_list("id", flat=True)),
        "course_trainers": sorted(Trainer.objects.filter(courses__in=real.courses).values_list("id", flat=True)),
        "payments": list(Payment.objects.filter(Q(student=real.student) | Q(course__in=real.courses)).values()),
        "purchases": list(StudentCoursePurchase.objects.filter(student=real.student).values()),
        "allocations": list(
            TrainerAllocation.objects.filter(Q(student=real.student) | Q(trainer=real.trainer)).values()
        ),
        "sessions": list(TutoringSession.objects.filter(Q(student=real.student) | Q(trainer=real.trainer)).values()),
    }


def _counts() -> dict[str, int]:
    counts = {model.__name__: model.objects.count() for model in MODELS}
    counts["trainer_courses"] = Trainer.courses.through.objects.count()
    return counts


def _active_load(trainer: Trainer) -> int:
    return trainer.allocations.filter(status=TrainerAllocation.Status.ACTIVE).count()


def test_seeding_twice_leaves_every_real_row_as_it_was(real):
    before = _snapshot(real)

    demo_platform_seed(scale=SCALE)
    demo_platform_seed(scale=SCALE)

    assert _snapshot(real) == before


def test_a_real_purchase_gets_no_allocation_from_the_seed(real):
    demo_platform_seed(scale=SCALE)

    assert not real.unallocated.allocations.exists()


def test_a_real_allocation_gets_no_sessions_from_the_seed(real):
    demo_platform_seed(scale=SCALE)

    assert not TutoringSession.objects.filter(allocation__purchase=real.allocated).exists()


def test_a_real_trainer_keeps_their_courses_and_load(real):
    demo_platform_seed(scale=SCALE)

    assert set(real.trainer.courses.all()) == set(real.courses)
    assert _active_load(real.trainer) == 1


def test_a_real_course_is_left_out_of_the_demo(real):
    demo_platform_seed(scale=SCALE)

    assert not Payment.objects.filter(course__in=real.courses).exclude(student=real.student).exists()
    assert set(Trainer.objects.filter(courses__in=real.courses)) == {real.trainer}


def test_a_second_run_beside_real_rows_creates_nothing(real):
    demo_platform_seed(scale=SCALE)
    after_first = _counts()

    again = demo_platform_seed(scale=SCALE)

    assert again == dict.fromkeys(again, 0)
    assert _counts() == after_first


def test_a_real_person_with_a_demo_address_is_not_adopted():
    person = StudentFactory(email="student1@demo.ops-console.test")

    demo_platform_seed(scale=SCALE)

    assert not person.payments.exists()


def test_real_traffic_between_runs_is_left_alone():
    # The reported case: `make run`, API traffic on demo students and courses, `make run` again.
    demo_platform_seed(scale=SCALE)
    course = Course.objects.get(code="algebra-1")
    student = Student.objects.filter(email__startswith="student").exclude(purchases__course=course).first()
    trainer = Trainer.objects.filter(courses=course, status=Trainer.Status.ACTIVE).first()
    waiting = PurchaseFactory(payment=PaymentFactory(student=student, course=course))
    scheduled_later = AllocationFactory(trainer=trainer, purchase__payment__course=course, allocated_at=timezone.now())
    load = _active_load(trainer)

    demo_platform_seed(scale=SCALE)

    assert not waiting.allocations.exists()
    assert not scheduled_later.sessions.exists()
    assert _active_load(trainer) == load


def test_a_larger_scale_never_pushes_a_trainer_over_capacity():
    demo_platform_seed(scale=SCALE)
    course = Course.objects.get(code="algebra-1")
    trainer = Trainer.objects.filter(courses=course).order_by("capacity").first()
    for _ in range(trainer.capacity - _active_load(trainer)):
        AllocationFactory(trainer=trainer, purchase__payment__course=course, allocated_at=timezone.now())

    demo_platform_seed(scale=DemoScale.for_payments(2_000))

    loads = Trainer.objects.annotate(load=Count("allocations", filter=Q(allocations__status="active")))
    assert _active_load(trainer) == trainer.capacity
    assert not [(t.id, t.load, t.capacity) for t in loads if t.load > t.capacity]
