from __future__ import annotations

import logging
import time

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.factories import StaffUserFactory
from tests.support.proxies import redis_proxy
from tests.support.servers import silent_tcp_server


def _point_cache_at(settings, url: str, *, socket_timeout: float = 0.3) -> None:
    caches = {"default": {**settings.CACHES["default"], "LOCATION": url}}
    caches["default"]["OPTIONS"] = {
        **caches["default"]["OPTIONS"],
        "SOCKET_TIMEOUT": socket_timeout,
        "SOCKET_CONNECT_TIMEOUT": socket_timeout,
    }
    settings.CACHES = caches


def test_a_cache_read_from_a_dead_redis_is_a_miss_and_is_logged(settings, caplog):
    _point_cache_at(settings, "unix:///nonexistent/redis.sock")

    with caplog.at_level(logging.ERROR, logger="lib.cache"):
        value = cache.get("anything", default="miss")

    assert value == "miss"
    assert any(record.name == "lib.cache" for record in caplog.records)


def test_a_cache_write_to_a_dead_redis_fails_silently(settings, caplog):
    _point_cache_at(settings, "unix:///nonexistent/redis.sock")

    with caplog.at_level(logging.ERROR, logger="lib.cache"):
        cache.set("key", "value", timeout=30)

    assert any(record.name == "lib.cache" for record in caplog.records)


def test_a_hung_redis_costs_a_cache_read_no_more_than_its_socket_timeout(settings):
    with silent_tcp_server() as port:
        _point_cache_at(settings, f"redis://127.0.0.1:{port}/0", socket_timeout=0.3)
        started = time.monotonic()

        value = cache.get("anything")

        elapsed = time.monotonic() - started
    assert value is None
    assert elapsed < 1.5


def test_the_cache_works_when_redis_is_up():
    cache.set("tests:roundtrip", {"a": 1}, timeout=30)

    assert cache.get("tests:roundtrip") == {"a": 1}


@pytest.mark.django_db
def test_a_signed_in_operator_stays_signed_in_while_redis_is_unreachable(settings):
    with redis_proxy(settings.REDIS_URL) as redis:
        _point_cache_at(settings, redis.url)
        client = Client()
        client.force_login(StaffUserFactory())  # the session is written to PostgreSQL and to Redis
        assert client.get("/ops/live").status_code == 200
        redis.cut()

        response = client.get("/ops/live")

    assert response.status_code == 200
    assert response.json()["type"] == "ops.overview"


@pytest.mark.django_db
def test_a_session_is_read_from_redis_not_postgresql_while_redis_is_up(staff_client):
    staff_client.get("/ops/live")

    with CaptureQueriesContext(connection) as queries:
        staff_client.get("/ops/live")

    assert not any("django_session" in query["sql"] for query in queries.captured_queries)
