"""Many pipelines at once, for the tests that kill workers under them: the course, the progress, the final count."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count

from apps.allocations.models import TrainerAllocation
from apps.directory.models import Course
from apps.payments.models import Payment
from apps.purchases.models import StudentCoursePurchase
from apps.tutoring.models import TutoringSession
from apps.workers.models import DeadLetter
from tests.factories import CourseFactory, TrainerFactory


def course_for_pipelines(*, runs: int, sessions: int) -> Course:
    """A course of `sessions` sessions taught by five trainers, each with room for all `runs` purchases."""
    course = CourseFactory(sessions_per_purchase=sessions)
    for _ in range(5):
        TrainerFactory(capacity=runs).courses.add(course)
    return course


def pipelines_complete(*, sessions: int) -> int:
    """Allocations that have all their `sessions` sessions: pipelines that ran to the end."""
    return TutoringSession.objects.values("allocation").annotate(n=Count("id")).filter(n=sessions).count()


def assert_every_pipeline_ran_once(payments: Iterable[Payment], *, sessions: int) -> None:
    """One purchase, one allocation and `sessions` sessions per payment; nothing more, nothing dead-lettered."""
    ids = {payment.id for payment in payments}
    assert StudentCoursePurchase.objects.count() == len(ids)
    assert set(StudentCoursePurchase.objects.values_list("payment_id", flat=True)) == ids
    assert TrainerAllocation.objects.count() == len(ids)
    assert TrainerAllocation.objects.values("purchase").distinct().count() == len(ids)
    assert TutoringSession.objects.count() == len(ids) * sessions
    assert not DeadLetter.objects.exists()
