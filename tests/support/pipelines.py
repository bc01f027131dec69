"""Many pipelines at once, for the tests that kill workers under them: the course, the progress, the final count."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable

from django.conf import settings
from django.db.models import Count

from apps.allocations.models import TrainerAllocation
from apps.directory.models import Course
from apps.payments.models import Payment
from apps.pipeline.services import pipeline_resume_stalled
from apps.purchases.models import StudentCoursePurchase
from apps.tutoring.models import TutoringSession
from apps.workers.models import DeadLetter
from tests.factories import CourseFactory, TrainerFactory
from tests.support.waiting import wait_until


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


def wait_for_every_pipeline_resuming_once_on_redis(
    *, runs: int, sessions: int, timeout: float, where: Callable[[], str] = lambda: ""
) -> int:
    """Wait until `runs` pipelines are complete; on Redis, if some stall, run the resume job once and wait
    again. Returns how many steps the resume job handed on (0 when nothing stalled).

    Celery's Redis transport pops a message (BRPOP) before it records it as unacknowledged: a worker killed
    in between loses that message from the broker (docs/workers.md, "Redis has no real acknowledgements").
    The resume job, which beat runs every 5 minutes for steps stalled 10, hands such a step on again; here
    it runs at once. RabbitMQ tracks deliveries itself, so there nothing may stall. `where` describes a
    stall in the failure message.
    """

    def every_pipeline() -> bool:
        return pipelines_complete(sessions=sessions) == runs

    try:
        wait_until(every_pipeline, timeout=timeout, interval=0.2, what="every pipeline")
        return 0
    except AssertionError as exc:
        if settings.CELERY_BROKER_KIND != "redis":
            raise AssertionError(f"{exc}: {where()}") from None
    summary = pipeline_resume_stalled(older_than=datetime.timedelta(0))
    try:
        wait_until(every_pipeline, timeout=timeout, interval=0.2, what="every pipeline, resumed")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {where()}") from None
    return summary.purchases + summary.allocations + summary.schedules
