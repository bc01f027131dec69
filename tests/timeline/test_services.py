from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from apps.timeline.models import TimelineEvent, TimelineKind
from apps.timeline.services import timeline_prune

pytestmark = pytest.mark.django_db


def _event(age_days: float) -> TimelineEvent:
    return TimelineEvent.objects.create(
        occurred_at=timezone.now() - datetime.timedelta(days=age_days),
        subject="payment:1",
        kind=TimelineKind.TASK,
        name="started",
    )


def test_pruning_deletes_events_past_the_retention_and_keeps_the_rest(settings):
    settings.TIMELINE_RETENTION_DAYS = 30
    old, recent = _event(31), _event(29)

    deleted = timeline_prune()

    assert deleted == 1
    assert list(TimelineEvent.objects.values_list("id", flat=True)) == [recent.id]
    assert not TimelineEvent.objects.filter(id=old.id).exists()


def test_pruning_works_in_batches_until_nothing_old_is_left(settings):
    settings.TIMELINE_RETENTION_DAYS = 1
    for _ in range(7):
        _event(2)

    deleted = timeline_prune(batch=3)

    assert deleted == 7
    assert not TimelineEvent.objects.exists()


def test_pruning_stops_at_its_time_budget(settings):
    settings.TIMELINE_RETENTION_DAYS = 1
    for _ in range(5):
        _event(2)

    deleted = timeline_prune(batch=2, max_seconds=0)

    assert deleted == 0
    assert TimelineEvent.objects.count() == 5
