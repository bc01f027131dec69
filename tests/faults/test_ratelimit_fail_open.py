"""A slow or dead Redis lets requests through: the limiter fails open, within its timeout."""

from __future__ import annotations

import logging
import time

import pytest
from django.test import Client

from lib import metrics
from tests.support.logs import logged_events
from tests.support.servers import silent_tcp_server

pytestmark = pytest.mark.django_db

DEAD_REDIS = "unix:///nonexistent/redis.sock"
# Time a login attempt may take beyond RATE_LIMIT_REDIS_TIMEOUT (the view itself, a pool checkout).
MARGIN = 0.7


def _attempt_login() -> tuple[int, float, bool]:
    """Status, seconds taken, and whether the response carried rate-limit headers."""
    started = time.monotonic()
    response = Client().post("/admin/login/", {"username": "nobody", "password": "wrong"})
    return response.status_code, time.monotonic() - started, "X-RateLimit-Limit" in response


def test_a_login_attempt_goes_through_when_redis_is_down(settings):
    settings.REDIS_URL = DEAD_REDIS

    status, elapsed, limited = _attempt_login()

    assert status == 200
    assert elapsed < settings.RATE_LIMIT_REDIS_TIMEOUT + MARGIN
    assert not limited


def test_a_hung_redis_delays_a_login_attempt_no_more_than_the_limiter_timeout(settings):
    with silent_tcp_server() as port:
        settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"

        status, elapsed, limited = _attempt_login()

    assert status == 200
    assert elapsed < settings.RATE_LIMIT_REDIS_TIMEOUT + MARGIN
    assert not limited


def test_failing_open_is_logged_and_counted(settings, caplog):
    settings.REDIS_URL = DEAD_REDIS
    before = metrics.counter_value("rate_limit_fail_open")

    with caplog.at_level(logging.WARNING, logger="apps.web.ratelimit"):
        _attempt_login()

    [event] = logged_events(caplog, "rate_limit_unavailable")
    assert event["scope"] == "login"
    assert event["error_class"] == "ConnectionError"
    assert metrics.counter_value("rate_limit_fail_open") == before + 1
