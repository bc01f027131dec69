from __future__ import annotations

import datetime
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import connections, transaction
from django.utils import timezone

from apps.telemetry.aggregate import overview_series, postgres_connection_counts
from apps.telemetry.models import Alert, MetricSample
from apps.telemetry.reporter import snapshot_publish
from apps.telemetry.selectors import console_overview, metric_series
from apps.telemetry.snapshot import Window, identity_here, snapshot_build
from lib import metrics

pytestmark = pytest.mark.django_db

SUMMARY_KEYS = {
    "http_rps", "http_5xx_rate", "http_p95_ms", "db_pool_in_use", "db_pool_max", "ws_connections", "ws_cap",
    "queue_depth", "queue_oldest_age_s", "dead_letters_new", "alerts_firing",
}  # fmt: skip
TILE_KEYS = {
    "http", "db_pool", "postgres_connections", "redis", "websockets", "queues", "tasks", "dead_letters", "provider",
    "rate_limiter",
}  # fmt: skip


def _publish(kind: str) -> dict:
    snapshot = snapshot_build(identity=identity_here(kind=kind), window=Window(seconds=60))
    assert snapshot_publish(snapshot)
    return snapshot


def test_the_overview_has_the_agreed_shape():
    overview = console_overview(now=timezone.now())

    assert set(overview) == {
        "generated_at", "totals_read_at", "totals_age_s", "status", "levels", "summary", "processes", "tiles",
        "health", "alerts", "notes",
    }  # fmt: skip
    assert set(overview["summary"]) == SUMMARY_KEYS
    assert set(overview["tiles"]) == TILE_KEYS
    assert overview["status"]["level"] in ("ok", "degraded", "down")
    assert {h["name"] for h in overview["health"]} >= {"postgres", "redis", "broker", "workers", "beat", "provider"}


@contextmanager
def _a_connection_idle_in_a_transaction() -> Iterator[None]:
    """Another thread opens a transaction, runs one statement and waits until the block ends."""
    opened, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic(), connections["default"].cursor() as cursor:
                cursor.execute("SELECT 1")
                opened.set()
                release.wait(timeout=30)
        finally:
            connections["default"].close()

    thread = threading.Thread(target=hold)
    thread.start()
    assert opened.wait(timeout=10)
    try:
        yield
    finally:
        release.set()
        thread.join()


def test_postgres_connections_are_sampled_in_all_and_idle_in_a_transaction():
    with _a_connection_idle_in_a_transaction():
        series = overview_series(console_overview(now=timezone.now()))

    assert series["postgres_connections.idle_in_transaction"] >= 1
    assert series["postgres_connections.total"] >= series["postgres_connections.idle_in_transaction"] + 1


def test_postgres_connection_counts_are_unknown_when_nothing_was_read():
    assert postgres_connection_counts([]) == {"total": None, "idle_in_transaction": None}


def test_a_published_web_snapshot_shows_as_a_process_with_its_requests():
    metrics.reset()
    for status, ms in ((200, 12.0), (200, 30.0), (503, 80.0)):
        metrics.increment("http_requests", status=f"{status // 100}xx")
        metrics.observe_histogram("http_request_ms", ms)
    web = _publish("web")

    overview = console_overview(now=timezone.now())

    [process] = [p for p in overview["processes"] if p["id"] == web["id"]]
    assert process["kind"] == "web"
    assert overview["tiles"]["http"]["error_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert 50 <= overview["tiles"]["http"]["p99_ms"] <= 100


def test_without_workers_or_beat_their_health_is_down_and_the_status_says_so():
    overview = console_overview(now=timezone.now())

    health = {h["name"]: h["state"] for h in overview["health"]}
    assert (health["workers"], health["beat"]) == ("down", "down")
    assert any(reason.startswith("beat down") for reason in overview["status"]["reasons"])


def test_the_overview_is_shared_between_viewers_for_the_cache_period():
    first = console_overview()
    _publish("web")

    second = console_overview()

    assert second == first


def test_firing_alerts_show_on_the_overview():
    Alert.objects.create(rule="beat_missing", since=timezone.now(), summary="beat is not reporting")

    overview = console_overview(now=timezone.now())

    assert [a["rule"] for a in overview["alerts"]] == ["beat_missing"]
    assert overview["summary"]["alerts_firing"] == 1


def test_a_series_is_averaged_into_points_of_its_range():
    now = timezone.now()
    MetricSample.objects.bulk_create(
        [
            MetricSample(name="http.rps", sampled_at=now - datetime.timedelta(seconds=10 * n), value=float(n))
            for n in range(60)
        ]
    )

    series = metric_series(names=["http.rps", "db_pool.in_use"], range_="1h", now=now)

    assert 19 <= len(series["http.rps"]) <= 21  # 10 minutes in 30-second points
    assert series["db_pool.in_use"] == []


def test_an_unknown_range_is_refused():
    with pytest.raises(ValueError, match="range must be one of"):
        metric_series(names=["http.rps"], range_="2y")


def test_history_reads_through_the_name_and_time_index():
    from django.db import connection

    from tests.support.plans import indexes_used_by

    now = timezone.now()
    names = [f"series.{n}" for n in range(40)]
    MetricSample.objects.bulk_create(
        [
            MetricSample(name=name, sampled_at=now - datetime.timedelta(seconds=30 * n), value=1.0)
            for name in names
            for n in range(500)
        ]
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE telemetry_samples")

    used = indexes_used_by(lambda: metric_series(names=["series.1", "series.2"], range_="1h", now=now))

    assert "telemetry_samples_name_sampled_idx" in used


def test_every_process_reports_its_realtime_event_counters():
    metrics.increment("ws_events_published")

    snapshot = _publish("worker")

    assert snapshot["realtime"]["totals"]["published"] >= 1
    assert set(snapshot["realtime"]["per_s"]) == {"published", "publish_failed", "delivered", "dropped"}


def test_a_web_snapshot_names_its_realtime_instance_and_its_refusals_by_reason():
    metrics.increment("ws_refused", reason="origin")

    ws = _publish("web")["ws"]

    assert ws["instance_id"]
    assert ws["refused_by_reason"]["origin"] >= 1
