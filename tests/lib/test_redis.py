"""Direct Redis use is bounded and fails open (reads) or silently (writes)."""

from __future__ import annotations

import logging
import re
import time
import uuid

import pytest

from lib import metrics
from lib.redis import get_client, redis_read, redis_write
from tests.support.logs import logged_events
from tests.support.processes import ROOT
from tests.support.servers import silent_tcp_server

DEAD_REDIS = "unix:///nonexistent/redis.sock"
# Time a hung Redis may add beyond the configured timeout.
MARGIN = 0.5
# Ways of opening a Redis client that bypass the bounded ones in lib/redis.py.
RAW_CLIENT = re.compile(r"get_redis_connection\(|Redis\(|Redis\.from_url\(|redis(?:\.asyncio)?\.from_url\(")
ALLOWED_TO_OPEN_CLIENTS = {"lib/redis.py", "apps/health/checks.py"}


def _key() -> str:
    return f"tests:redis:{uuid.uuid4().hex}"


def test_a_read_returns_what_redis_holds():
    key = _key()
    get_client("write").set(key, b"42", ex=60)

    value = redis_read(lambda client: client.get(key), default=None, what="test_read")

    assert value == b"42"


def test_a_write_reaches_redis_and_reports_success():
    key = _key()

    written = redis_write(lambda client: client.set(key, b"1", ex=60), what="test_write")

    assert written is True
    assert get_client("read").get(key) == b"1"


def test_a_read_from_a_dead_redis_returns_the_default(settings):
    settings.REDIS_URL = DEAD_REDIS

    value = redis_read(lambda client: client.get("anything"), default="fallback", what="test_read")

    assert value == "fallback"


def test_a_failed_read_is_logged_and_counted(settings, caplog):
    settings.REDIS_URL = DEAD_REDIS
    before = metrics.counter_value("redis_failures", purpose="read")

    with caplog.at_level(logging.WARNING, logger="lib.redis"):
        redis_read(lambda client: client.get("anything"), default=None, what="dashboard_counts")

    [event] = logged_events(caplog, "redis_read_failed")
    assert event["what"] == "dashboard_counts"
    assert event["error_class"] == "ConnectionError"
    assert metrics.counter_value("redis_failures", purpose="read") == before + 1


def test_a_write_to_a_dead_redis_is_dropped_silently(settings):
    settings.REDIS_URL = DEAD_REDIS

    written = redis_write(lambda client: client.set("anything", b"1"), what="test_write")

    assert written is False


def test_a_failed_write_is_logged_and_counted(settings, caplog):
    settings.REDIS_URL = DEAD_REDIS
    before = metrics.counter_value("redis_failures", purpose="write")

    with caplog.at_level(logging.WARNING, logger="lib.redis"):
        redis_write(lambda client: client.set("anything", b"1"), what="last_seen")

    [event] = logged_events(caplog, "redis_write_failed")
    assert event["what"] == "last_seen"
    assert metrics.counter_value("redis_failures", purpose="write") == before + 1


def test_a_hung_redis_costs_a_read_no_more_than_the_read_timeout(settings):
    settings.REDIS_READ_TIMEOUT = 0.3
    with silent_tcp_server() as port:
        settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"
        started = time.monotonic()

        value = redis_read(lambda client: client.get("anything"), default="fallback", what="test_read")

        elapsed = time.monotonic() - started
    assert value == "fallback"
    assert elapsed < 0.3 + MARGIN


def test_a_hung_redis_costs_a_write_no_more_than_the_write_timeout(settings):
    settings.REDIS_WRITE_TIMEOUT = 0.3
    with silent_tcp_server() as port:
        settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"
        started = time.monotonic()

        written = redis_write(lambda client: client.set("anything", b"1"), what="test_write")

        elapsed = time.monotonic() - started
    assert written is False
    assert elapsed < 0.3 + MARGIN


def test_a_bug_in_the_operation_is_not_mistaken_for_an_outage():
    with pytest.raises(ZeroDivisionError):
        redis_read(lambda client: 1 / 0, default=None, what="test_read")


def test_no_code_outside_the_redis_module_opens_its_own_redis_client():
    offenders = [
        f"{path.relative_to(ROOT)}: {match.group()}"
        for package in ("apps", "lib")
        for path in sorted((ROOT / package).rglob("*.py"))
        if path.relative_to(ROOT).as_posix() not in ALLOWED_TO_OPEN_CLIENTS
        for match in RAW_CLIENT.finditer(path.read_text())
    ]

    assert offenders == [], "use lib.redis.redis_read/redis_write (or get_client) instead"
