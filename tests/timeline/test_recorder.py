from __future__ import annotations

import threading

import pytest

from apps.pipeline.steps import ASSIGN_TRAINER, CREATE_PURCHASE, NOTIFY_ALLOCATION, SCHEDULE_SESSIONS
from apps.timeline import recorder
from apps.timeline.models import TimelineEvent, TimelineKind
from lib import metrics
from lib.context import reset_correlation_id, set_correlation_id


def test_the_pipeline_tasks_subjects_name_the_pipelines_own_tasks():
    assert set(recorder.TASK_SUBJECTS) == {CREATE_PURCHASE, ASSIGN_TRAINER, SCHEDULE_SESSIONS, NOTIFY_ALLOCATION}


def test_a_task_message_is_about_its_first_argument():
    assert recorder.task_subject(ASSIGN_TRAINER, [7]) == "purchase:7"
    assert recorder.task_subject(CREATE_PURCHASE, (12,)) == "payment:12"


def test_other_tasks_and_malformed_arguments_have_no_subject():
    assert recorder.task_subject("payments.invalidate_student_cache", [3]) is None
    assert recorder.task_subject(ASSIGN_TRAINER, ["7"]) is None
    assert recorder.task_subject(ASSIGN_TRAINER, []) is None


@pytest.mark.django_db
def test_an_event_carries_the_current_correlation_id():
    token = set_correlation_id("req-abc")
    try:
        recorder.timeline_record(subject="payment:1", kind=TimelineKind.PUSH, name="payment.succeeded")
    finally:
        reset_correlation_id(token)
    recorder.timeline_flush()

    assert TimelineEvent.objects.get().correlation_id == "req-abc"


@pytest.mark.django_db
def test_nothing_is_recorded_when_the_timeline_is_off(settings):
    settings.TIMELINE_ENABLED = False

    recorder.timeline_record(subject="payment:1", kind=TimelineKind.PUSH, name="payment.succeeded")
    recorder.timeline_record_now(subject="payment:1", kind=TimelineKind.STATE, name="pending")
    recorder.timeline_flush()

    assert not TimelineEvent.objects.exists()


@pytest.mark.django_db
def test_batched_events_cost_no_query_until_the_flush_writes_them_together(django_assert_num_queries):
    with django_assert_num_queries(0):
        for n in range(3):
            recorder.timeline_record(subject=f"payment:{n}", kind=TimelineKind.TASK, name="started")

    written = recorder.timeline_flush()

    assert written == 3
    assert TimelineEvent.objects.count() == 3


@pytest.mark.django_db
def test_a_full_buffer_drops_new_events_and_counts_them(settings):
    settings.TIMELINE_BUFFER_MAX = 100
    dropped_before = metrics.counter_value("timeline_dropped")
    for n in range(105):
        recorder.timeline_record(subject=f"payment:{n}", kind=TimelineKind.TASK, name="started")

    assert recorder.timeline_buffered() == 100
    assert metrics.counter_value("timeline_dropped") == dropped_before + 5


@pytest.mark.django_db(transaction=True)
def test_the_writer_thread_writes_buffered_events_by_itself(settings):
    recorder.timeline_stop()
    settings.TIMELINE_FLUSH_INTERVAL = 0.05
    recorder.timeline_record(subject="payment:99", kind=TimelineKind.TASK, name="started")
    running = recorder._batcher.running()

    def written() -> bool:
        return TimelineEvent.objects.filter(subject="payment:99").exists()

    done = threading.Event()
    for _ in range(100):
        if written():
            done.set()
            break
        done.wait(0.05)
    recorder.timeline_stop()

    assert running
    assert done.is_set()


@pytest.mark.django_db
def test_a_failed_write_keeps_the_events_for_the_next_flush(settings):
    settings.TIMELINE_SQL_TIMEOUT = 0  # statement_timeout refuses it: the write raises before any INSERT
    recorder.timeline_record(subject="payment:5", kind=TimelineKind.TASK, name="started")

    assert recorder.timeline_flush() == 0
    assert recorder.timeline_buffered() == 1
    settings.TIMELINE_SQL_TIMEOUT = 500
    assert recorder.timeline_flush() == 1
    assert TimelineEvent.objects.filter(subject="payment:5").exists()
