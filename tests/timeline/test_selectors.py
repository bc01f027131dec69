from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.payments.models import PaymentStatus
from apps.payments.services import ACTOR_WEBHOOK, payment_settle
from apps.pipeline import tasks
from apps.timeline.models import TimelineEvent
from apps.timeline.recorder import timeline_flush, timeline_record
from apps.timeline.selectors import QUERY_MAX, payment_timeline, timeline_find_payments
from lib.context import reset_correlation_id, set_correlation_id
from tests.factories import CourseFactory, PaymentFactory, SessionFactory, TrainerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid_through_the_pipeline():
    """A pending payment settled by a webhook (correlation id "req-webhook-1"), then each pipeline step run."""
    course = CourseFactory(sessions_per_purchase=2)
    TrainerFactory(capacity=5).courses.add(course)
    payment = PaymentFactory(course=course, status=PaymentStatus.PENDING, provider_payment_id="ch_timeline_1")
    token = set_correlation_id("req-webhook-1")
    try:
        payment_settle(payment_id=payment.id, status=PaymentStatus.SUCCEEDED, actor=ACTOR_WEBHOOK)
    finally:
        reset_correlation_id(token)
    tasks.purchases_create_from_payment.apply(args=[payment.id])
    purchase = payment.purchases.get()
    tasks.allocations_assign_trainer.apply(args=[purchase.id])
    allocation = purchase.allocations.get()
    tasks.tutoring_schedule_sessions.apply(args=[allocation.id])
    tasks.pipeline_notify_allocation.apply(args=[allocation.id])
    timeline_flush()
    return payment


def test_a_payment_timeline_shows_the_state_change_with_its_actor(paid_through_the_pipeline):
    timeline = payment_timeline(payment_id=paid_through_the_pipeline.id)

    state = [e for e in timeline["events"] if e["kind"] == "state"]
    assert [(e["name"], e["actor"], e["detail"]["from"]) for e in state] == [("succeeded", "webhook", "pending")]
    assert state[0]["summary"] == "pending → succeeded by webhook"
    assert state[0]["correlation_id"] == "req-webhook-1"


def test_a_payment_timeline_follows_every_pipeline_task_through_purchase_and_allocation(paid_through_the_pipeline):
    timeline = payment_timeline(payment_id=paid_through_the_pipeline.id)

    tasks_seen = [(e["actor"], e["name"]) for e in timeline["events"] if e["kind"] == "task"]
    assert tasks_seen == [
        ("purchases.create_from_payment", "started"),
        ("purchases.create_from_payment", "succeeded"),
        ("allocations.assign_trainer", "started"),
        ("allocations.assign_trainer", "succeeded"),
        ("tutoring.schedule_sessions", "started"),
        ("tutoring.schedule_sessions", "succeeded"),
        ("pipeline.notify_allocation", "started"),
        ("pipeline.notify_allocation", "succeeded"),
    ]


def test_a_payment_timeline_shows_the_event_pushed_to_browsers_and_what_the_payment_caused(paid_through_the_pipeline):
    timeline = payment_timeline(payment_id=paid_through_the_pipeline.id)

    pushes = [e["name"] for e in timeline["events"] if e["kind"] == "push"]
    assert "allocation.scheduled" in pushes
    assert len(timeline["purchases"]) == 1
    assert timeline["allocations"][0]["status"] == "active"
    assert len(timeline["sessions"]) == 2


def test_events_are_in_time_order(paid_through_the_pipeline):
    events = payment_timeline(payment_id=paid_through_the_pipeline.id)["events"]

    assert [e["at"] for e in events] == sorted(e["at"] for e in events)


def test_the_timeline_lists_the_correlation_ids_that_tie_its_events(paid_through_the_pipeline):
    ids = [c["id"] for c in payment_timeline(payment_id=paid_through_the_pipeline.id)["correlation_ids"]]

    assert ids[0] == "req-webhook-1"


def test_an_unknown_payment_has_no_timeline():
    assert payment_timeline(payment_id=987654321) is None


def test_the_timeline_costs_the_same_queries_however_much_the_payment_caused():
    small = SessionFactory().allocation.purchase.payment
    big_allocation = SessionFactory().allocation
    SessionFactory.create_batch(10, allocation=big_allocation)
    big = big_allocation.purchase.payment
    for n in range(30):
        timeline_record(subject=f"payment:{big.id}", kind="task", name="started", actor=f"t{n}")

    with CaptureQueriesContext(connection) as small_queries:
        payment_timeline(payment_id=small.id)
    with CaptureQueriesContext(connection) as big_queries:
        payment_timeline(payment_id=big.id)

    # Five reads, the statement timeout set and put back, and the savepoint around them (in a test transaction).
    assert len(big_queries.captured_queries) == len(small_queries.captured_queries) == 9


def test_a_payment_is_found_by_its_id_provider_id_idempotency_key_or_correlation_id(paid_through_the_pipeline):
    payment = paid_through_the_pipeline

    for query in (str(payment.id), "ch_timeline_1", payment.idempotency_key, "req-webhook-1"):
        assert timeline_find_payments(query=query) == [payment.id], query


def test_a_correlation_id_seen_only_on_a_later_step_still_finds_its_payment():
    allocation = SessionFactory().allocation
    timeline_record(subject=f"allocation:{allocation.id}", kind="task", name="started", correlation_id="beat-run-7")
    timeline_flush()

    assert timeline_find_payments(query="beat-run-7") == [allocation.purchase.payment_id]


def test_a_query_nothing_carries_finds_nothing():
    assert timeline_find_payments(query="no-such-key") == []


@pytest.mark.parametrize("query", ["", "   ", "x" * (QUERY_MAX + 1)])
def test_an_empty_or_over_long_query_is_refused(query):
    with pytest.raises(ValueError, match="characters"):
        timeline_find_payments(query=query)


def test_a_dead_lettered_step_is_on_the_timeline_with_its_reason_and_never_as_succeeded():
    tasks.purchases_create_from_payment.apply(args=[987654])
    timeline_flush()

    events = TimelineEvent.objects.filter(subject="payment:987654").order_by("id")

    assert [e.name for e in events] == ["started", "dead_lettered"]
    assert events[1].detail["reason"] == "validation"
