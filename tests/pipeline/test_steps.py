"""The pipeline's steps, run as a worker runs them: each hands on to the next through the outbox, in its transaction."""

from __future__ import annotations

import datetime
from datetime import UTC

import pytest
from django.core.exceptions import ObjectDoesNotExist
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.allocations.models import TrainerAllocation
from apps.directory.models import Student
from apps.outbox.models import OutboxMessage
from apps.pipeline.services import pipeline_run_step, pipeline_start_for_payment
from apps.pipeline.steps import PIPELINE
from apps.purchases.models import StudentCoursePurchase
from apps.purchases.services import PurchaseNotAllowed
from apps.workers.retry import ReliableTask
from ops_console.celery import app
from tests.factories import AllocationFactory, CourseFactory, PaymentFactory, PurchaseFactory, TrainerFactory

pytestmark = pytest.mark.django_db

STEP_QUEUES = {
    "purchases.create_from_payment": "purchases",
    "allocations.assign_trainer": "allocations",
    "tutoring.schedule_sessions": "sessions",
    "pipeline.notify_allocation": "cache",
}


def _handed_off() -> list[tuple[str, list[int]]]:
    """The outbox rows written so far (the test's transaction never commits, so none is sent)."""
    return list(OutboxMessage.objects.order_by("id").values_list("task_name", "args"))


def test_the_steps_keep_their_order_their_task_names_and_their_queues():
    app.loader.import_default_modules()  # what a worker registers at start
    assert [step.task_name for step in PIPELINE] == list(STEP_QUEUES)
    for task_name, queue in STEP_QUEUES.items():
        assert isinstance(app.tasks[task_name], ReliableTask)
        assert app.amqp.router.route({}, task_name)["queue"].name == queue


def test_starting_the_pipeline_hands_a_payment_to_the_first_step():
    payment = PaymentFactory()

    pipeline_start_for_payment(payment_id=payment.id)

    assert _handed_off() == [("purchases.create_from_payment", [payment.id])]


def test_creating_a_purchase_hands_it_to_trainer_assignment():
    payment = PaymentFactory()

    pipeline_run_step(task_name="purchases.create_from_payment", object_id=payment.id)

    purchase = StudentCoursePurchase.objects.get(payment=payment)
    assert _handed_off() == [("allocations.assign_trainer", [purchase.id])]


def test_a_repeated_step_hands_on_again_so_a_lost_hand_off_is_repaired():
    payment = PaymentFactory()

    pipeline_run_step(task_name="purchases.create_from_payment", object_id=payment.id)
    pipeline_run_step(task_name="purchases.create_from_payment", object_id=payment.id)

    purchase = StudentCoursePurchase.objects.get(payment=payment)
    assert _handed_off() == [("allocations.assign_trainer", [purchase.id])] * 2


def test_a_step_that_fails_hands_on_nothing():
    payment = PaymentFactory(student__status=Student.Status.PAUSED)

    with pytest.raises(PurchaseNotAllowed):
        pipeline_run_step(task_name="purchases.create_from_payment", object_id=payment.id)

    assert _handed_off() == []


def test_assigning_a_trainer_hands_the_allocation_to_scheduling():
    course = CourseFactory()
    TrainerFactory().courses.add(course)
    purchase = PurchaseFactory(payment__course=course)

    pipeline_run_step(task_name="allocations.assign_trainer", object_id=purchase.id)

    allocation = TrainerAllocation.objects.get(purchase=purchase)
    assert _handed_off() == [("tutoring.schedule_sessions", [allocation.id])]


def test_assigning_an_allocated_purchase_again_hands_its_allocation_on_again():
    allocation = AllocationFactory()

    pipeline_run_step(task_name="allocations.assign_trainer", object_id=allocation.purchase_id)

    assert _handed_off() == [("tutoring.schedule_sessions", [allocation.id])]


def test_scheduling_sessions_hands_the_allocation_to_notification():
    allocation = AllocationFactory(purchase__payment__course=CourseFactory(sessions_per_purchase=2))

    pipeline_run_step(task_name="tutoring.schedule_sessions", object_id=allocation.id)

    assert allocation.sessions.count() == 2
    assert _handed_off() == [("pipeline.notify_allocation", [allocation.id])]


def test_scheduling_again_leaves_the_sessions_written_as_they_are():
    course = CourseFactory(sessions_per_purchase=3, session_minutes=45)
    allocation = AllocationFactory(
        purchase__payment__course=course, allocated_at=datetime.datetime(2027, 3, 1, 9, tzinfo=UTC)
    )

    pipeline_run_step(task_name="tutoring.schedule_sessions", object_id=allocation.id)
    first = list(allocation.sessions.order_by("scheduled_date").values_list("id", "created_at"))
    pipeline_run_step(task_name="tutoring.schedule_sessions", object_id=allocation.id)

    sessions = allocation.sessions.order_by("scheduled_date")
    assert list(sessions.values_list("id", "created_at")) == first
    assert [session.scheduled_date for session in sessions] == [
        datetime.date(2027, 3, 8), datetime.date(2027, 3, 15), datetime.date(2027, 3, 22)
    ]  # fmt: skip
    assert {(s.scheduled_time, s.duration_minutes, s.status, s.is_demo) for s in sessions} == {
        (datetime.time(17, 0), 45, "scheduled", False)
    }
    assert {(s.student_id, s.trainer_id, s.course_id) for s in sessions} == {
        (allocation.student_id, allocation.trainer_id, course.id)
    }


@pytest.mark.parametrize("task_name", [step.task_name for step in PIPELINE])
def test_a_step_for_a_record_that_does_not_exist_fails_as_such(task_name):
    with pytest.raises(ObjectDoesNotExist):
        pipeline_run_step(task_name=task_name, object_id=0)

    assert _handed_off() == []


def test_the_last_step_hands_on_nothing():
    allocation = AllocationFactory()

    pipeline_run_step(task_name="pipeline.notify_allocation", object_id=allocation.id)

    assert _handed_off() == []


def _statements(task_name: str, object_id: int) -> list[str]:
    """The statements one run of a step sends, its transaction's savepoints left out (the test's own transaction
    makes a savepoint of what a worker runs as a transaction)."""
    with CaptureQueriesContext(connection) as captured:
        pipeline_run_step(task_name=task_name, object_id=object_id)
    return [query["sql"] for query in captured.captured_queries if "SAVEPOINT" not in query["sql"]]


def test_each_step_runs_only_the_statements_its_guarantees_need():
    course = CourseFactory(sessions_per_purchase=4)
    TrainerFactory().courses.add(course)
    payment = PaymentFactory(course=course)

    # Lock the payment (with its student), look up its purchase and the student's active one, insert, hand on.
    assert len(_statements("purchases.create_from_payment", payment.id)) == 4
    purchase = StudentCoursePurchase.objects.get(payment=payment)
    # Rank candidates; lock the purchase, look up its allocation, lock the trainer, count its load, insert, hand on.
    assert len(_statements("allocations.assign_trainer", purchase.id)) == 7
    allocation = TrainerAllocation.objects.get(purchase=purchase)
    # Lock the allocation (with its course), insert the sessions, hand on.
    assert len(_statements("tutoring.schedule_sessions", allocation.id)) == 3
    # Read the allocation with the people's logins and its sessions.
    assert len(_statements("pipeline.notify_allocation", allocation.id)) == 1
    assert allocation.sessions.count() == 4
