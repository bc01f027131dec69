"""Real processes report to the cluster view: they appear, a killed one disappears, a Redis outage costs nothing."""

from __future__ import annotations

import time

import pytest
import requests
from django.conf import settings

from apps.telemetry.aggregate import snapshots_read
from tests.support.proxies import redis_proxy
from tests.support.servers import asgi_server
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

INTERVAL = 1.0


def _env(**extra: str) -> dict[str, str]:
    return {"TELEMETRY_KEY_PREFIX": settings.TELEMETRY_KEY_PREFIX, "TELEMETRY_INTERVAL": str(INTERVAL), **extra}


def _kinds() -> dict[str, list[dict]]:
    kinds: dict[str, list[dict]] = {}
    for snapshot in snapshots_read():
        kinds.setdefault(snapshot["kind"], []).append(snapshot)
    return kinds


def test_a_web_server_and_a_worker_appear_and_a_killed_worker_disappears_within_three_intervals(start_worker):
    worker = start_worker(**_env())
    with asgi_server(**_env()) as base:
        for _ in range(5):
            requests.get(f"{base}/health", timeout=5)
        wait_until(lambda: "web" in _kinds() and len(_kinds().get("worker", [])) >= 3, timeout=30, what="processes")

        wait_until(lambda: _kinds()["web"][0]["http"]["requests"]["2xx"] >= 5, timeout=10, what="web requests")
        [web], workers = _kinds()["web"], _kinds()["worker"]
        assert web["pool"] is None or web["pool"]["max"] >= 1
        assert len({w["group"] for w in workers}) == 1  # the main process and its two pool children, one group

        worker.kill()
        killed_at = time.monotonic()
        wait_until(lambda: "worker" not in _kinds(), timeout=10, what="the killed worker to leave the view")
        gone_after = time.monotonic() - killed_at

        assert "web" in _kinds()
    assert gone_after <= 3 * INTERVAL + 0.5


def test_a_web_server_keeps_serving_while_redis_is_down_and_reports_again_when_it_is_back():
    with redis_proxy(settings.REDIS_URL) as redis, asgi_server(**_env(REDIS_URL=redis.url)) as base:
        wait_until(lambda: "web" in _kinds(), timeout=20, what="the web server's first report")

        redis.cut()
        wait_until(lambda: "web" not in _kinds(), timeout=10, what="the snapshot to expire")
        answers = [requests.get(f"{base}/health", timeout=5).status_code for _ in range(5)]
        redis.restore()

        wait_until(lambda: "web" in _kinds(), timeout=10, what="reporting to resume")
    assert answers == [200] * 5
