"""History over 24 h and 7 d reads rollup buckets kept by the sampler, not every raw sample."""

from __future__ import annotations

import datetime
import statistics

import pytest
from django.db import connection

from apps.telemetry.models import MetricRollup, MetricSample
from apps.telemetry.selectors import metric_series
from apps.telemetry.services import rollup_bucket, rollups_prune, rollups_rebuild, samples_store
from tests.support.plans import indexes_used_by

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)


def _store(count: int, *, every: float = 30.0, value=float) -> None:
    for n in range(count):
        at = NOW - datetime.timedelta(seconds=every * n)
        samples_store(series={"http.rps": value(n), "db_pool.in_use": None}, sampled_at=at)


def test_each_stored_sample_is_added_to_a_5_minute_and_a_35_minute_bucket():
    samples_store(series={"http.rps": 4.0, "db_pool.in_use": None}, sampled_at=NOW)
    samples_store(series={"http.rps": 2.0, "db_pool.in_use": None}, sampled_at=NOW + datetime.timedelta(seconds=30))

    rollups = {(r.step, r.name): (r.total, r.count) for r in MetricRollup.objects.all()}

    assert rollups == {
        (300, "http.rps"): (6.0, 2),
        (2100, "http.rps"): (6.0, 2),
        (300, "db_pool.in_use"): (0.0, 0),
        (2100, "db_pool.in_use"): (0.0, 0),
    }


def test_the_24_hour_view_averages_like_the_raw_samples_would():
    _store(200, value=lambda n: float(n % 7))

    series = metric_series(names=["http.rps", "db_pool.in_use"], range_="24h", now=NOW)

    by_bucket: dict[float, list[float]] = {}
    for sample in MetricSample.objects.filter(name="http.rps"):
        by_bucket.setdefault(rollup_bucket(sample.sampled_at, 300).timestamp(), []).append(sample.value)
    expected = [(t, statistics.fmean(v)) for t, v in sorted(by_bucket.items())]
    assert [t for t, _ in series["http.rps"]] == [t for t, _ in expected]
    assert [v for _, v in series["http.rps"]] == pytest.approx([v for _, v in expected])
    assert 15 <= len(series["http.rps"]) <= 22  # 100 minutes in 5-minute points
    assert all(value is None for _, value in series["db_pool.in_use"])  # unknown stays unknown, never 0


def test_the_7_day_view_has_at_most_288_points_per_series():
    _store(300, every=2100.0)  # one sample per 35 minutes over 7 days

    series = metric_series(names=["http.rps"], range_="7d", now=NOW)

    assert 280 <= len(series["http.rps"]) <= 288


@pytest.mark.parametrize("range_", ["24h", "7d"])
def test_long_views_read_the_rollup_index_not_the_samples(range_):
    MetricRollup.objects.bulk_create(
        [
            MetricRollup(step=step, name=f"series.{s}", bucket=NOW - datetime.timedelta(seconds=step * n), count=1)
            for step in (300, 2100)
            for s in range(40)
            for n in range(300)
        ]
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE telemetry_rollups")

    used = indexes_used_by(lambda: metric_series(names=["series.1", "series.2"], range_=range_, now=NOW))

    assert used == {"telemetry_rollups_step_name_bucket_uniq"}


def test_a_rebuild_replaces_buckets_and_never_counts_a_sample_twice():
    _store(20)
    before = {(r.step, r.name, r.bucket): (r.total, r.count) for r in MetricRollup.objects.all()}

    rollups_rebuild(since=NOW - datetime.timedelta(hours=1), until=NOW + datetime.timedelta(seconds=1))

    after = {(r.step, r.name, r.bucket): (r.total, r.count) for r in MetricRollup.objects.all()}
    assert after == before


def test_old_rollups_are_pruned_in_batches(settings):
    settings.TELEMETRY_RETENTION_DAYS = 14
    old = NOW - datetime.timedelta(days=15)
    MetricRollup.objects.bulk_create(
        [MetricRollup(step=300, name=f"s{n}", bucket=old, total=1.0, count=1) for n in range(5)]
    )
    MetricRollup.objects.create(step=300, name="s0", bucket=NOW, total=1.0, count=1)

    assert rollups_prune(now=NOW, batch=3) == 3
    assert rollups_prune(now=NOW, batch=3) == 2
    assert list(MetricRollup.objects.values_list("bucket", flat=True)) == [NOW]
