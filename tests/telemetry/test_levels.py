"""Green, amber and red mean the same on the banner, the health rows, the tiles and the alert rules."""

from __future__ import annotations

import os

import pytest
from django.utils import timezone

from apps.telemetry.levels import tile_levels
from apps.telemetry.models import Alert
from apps.telemetry.reporter import snapshot_publish
from apps.telemetry.selectors import console_overview
from apps.telemetry.snapshot import Window, identity_here, snapshot_build
from lib import metrics

pytestmark = pytest.mark.django_db


def _publish(kind: str, *, pid: int) -> None:
    identity = identity_here(kind=kind)
    identity = type(identity)(**{**identity.__dict__, "pid": pid, "group": f"{identity.host}:{pid}"})
    assert snapshot_publish(snapshot_build(identity=identity, window=Window(seconds=60)))


def _web_with_one_error_in(requests: int) -> None:
    metrics.reset()
    for n in range(requests):
        metrics.increment("http_requests", status="5xx" if n == 0 else "2xx")
        metrics.observe_histogram("http_request_ms", 10.0)
    _publish("web", pid=os.getpid())


def _tiles(**overrides: object) -> dict:
    tiles = {
        "http": {"error_rate": 0.0},
        "db_pool": {"in_use": 1, "max": 10, "waiting": 0, "timeouts": 0},
        "websockets": {"connections": 0, "cap": 100, "refused": 0},
        "queues": [{"name": "default", "depth": 0, "oldest_age_s": None}],
        "dead_letters": {"new": 0},
        "rate_limiter": {"fail_open": 0},
    }
    return {**tiles, **overrides}


HEALTHY = [{"name": "postgres", "state": "ok"}, {"name": "provider", "state": "ok"}]


def test_with_workers_and_beat_down_the_banner_is_red_like_their_health_rows():
    overview = console_overview(now=timezone.now())

    health = {h["name"]: h["state"] for h in overview["health"]}
    assert (health["workers"], health["beat"]) == ("down", "down")
    assert overview["levels"]["health"] == "down"
    assert overview["status"]["level"] == "down"


def test_with_every_process_reporting_the_banner_is_amber_only_for_what_is_degraded():
    for kind, pid in (("worker", 201), ("beat", 202), ("relay", 203)):
        _publish(kind, pid=pid)

    overview = console_overview(now=timezone.now())

    assert {h["name"]: h["state"] for h in overview["health"]}["workers"] == "ok"
    assert overview["status"]["level"] == ("ok" if not overview["status"]["reasons"] else "degraded")
    assert overview["status"]["level"] != "down"


def test_a_5xx_rate_above_the_alert_threshold_turns_the_http_tile_amber_and_the_banner_says_why(settings):
    settings.ALERT_HTTP_5XX_RATE = 0.05
    _web_with_one_error_in(10)

    overview = console_overview(now=timezone.now())

    assert overview["levels"]["http"] == "degraded"
    assert any(reason.startswith("5xx rate 10.0% above 5.0%") for reason in overview["status"]["reasons"])


def test_a_5xx_rate_below_the_alert_threshold_keeps_the_http_tile_green(settings):
    settings.ALERT_HTTP_5XX_RATE = 0.05
    _web_with_one_error_in(50)  # 2 %: above the console's old fixed 1 %, below the alert's threshold

    overview = console_overview(now=timezone.now())

    assert overview["levels"]["http"] == "ok"


def test_pool_usage_above_the_alert_threshold_turns_the_pool_tile_amber(settings):
    settings.ALERT_POOL_USAGE = 0.5

    levels = tile_levels(tiles=_tiles(), health=HEALTHY, alerts=[], series={"db_pool.usage": 0.6})

    assert levels["db_pool"] == "degraded"
    assert tile_levels(tiles=_tiles(), health=HEALTHY, alerts=[], series={"db_pool.usage": 0.4})["db_pool"] == "ok"


def test_a_firing_alert_keeps_its_tile_amber_until_it_resolves():
    levels = tile_levels(
        tiles=_tiles(), health=HEALTHY, alerts=[{"rule": "queue_age"}], series={"queues.oldest_age_s": 1.0}
    )

    assert levels["queues"] == "degraded"


def test_an_open_breaker_turns_the_provider_tile_red_like_its_health_row():
    health = [{"name": "provider", "state": "down"}]

    levels = tile_levels(tiles=_tiles(), health=health, alerts=[], series={"provider.breaker_open": 1.0})

    assert levels["provider"] == "down"
    assert levels["health"] == "down"


def test_requests_waiting_for_a_connection_turn_the_pool_tile_amber_not_red():
    tiles = _tiles(db_pool={"in_use": 10, "max": 10, "waiting": 3, "timeouts": 0})

    assert tile_levels(tiles=tiles, health=HEALTHY, alerts=[], series={})["db_pool"] == "degraded"


def test_a_firing_alert_shows_on_the_banner_in_words():
    Alert.objects.create(rule="http_p99", since=timezone.now(), summary="p99 latency 9000 ms above 7500 ms")

    overview = console_overview(now=timezone.now())

    assert "p99 latency 9000 ms above 7500 ms" in overview["status"]["reasons"]
    assert overview["levels"]["http"] == "degraded"
