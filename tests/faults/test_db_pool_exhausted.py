from __future__ import annotations

import time

import pytest

from tests.factories import StaffUserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_request_that_cannot_get_a_connection_gets_503_json_within_the_pool_timeout(client, exhausted_pool):
    client.force_login(StaffUserFactory())

    with exhausted_pool(timeout=0.5):
        started = time.monotonic()
        response = client.get("/admin/")
        elapsed = time.monotonic() - started

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "db_pool_exhausted"
    assert response["Retry-After"] == "5"
    assert elapsed < 2.0


def test_readiness_reports_postgres_when_the_pool_is_exhausted(client, exhausted_pool, settings):
    settings.HEALTH_CHECK_TIMEOUT = 1.0

    with exhausted_pool(timeout=0.3):
        response = client.get("/ready")

    assert response.status_code == 503
    assert response.json()["failing"] == ["postgres"]
    assert response.json()["checks"]["postgres"]["error"] == "Unavailable: connection pool exhausted"


def test_the_pool_serves_requests_again_once_connections_return(client, exhausted_pool):
    client.force_login(StaffUserFactory())
    with exhausted_pool(timeout=0.3):
        assert client.get("/admin/").status_code == 503

    assert client.get("/admin/").status_code == 200
