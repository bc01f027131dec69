from __future__ import annotations

import os

import pytest

from tests.support.servers import silent_tcp_server

pytestmark = pytest.mark.django_db(transaction=True)


def test_liveness_answers_ok_without_touching_dependencies(client, django_assert_num_queries, settings):
    settings.REDIS_URL = "unix:///nonexistent/redis.sock"

    with django_assert_num_queries(0):
        response = client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_liveness_tells_a_stranger_no_host_pid_or_user_ids(client, monkeypatch):
    from apps.realtime.state import STATE

    monkeypatch.setattr(STATE, "top_users", lambda limit=10: [(4242, 3)])

    body = client.get("/health").content.decode()

    assert STATE.instance_id.split(":")[0] not in body
    assert str(os.getpid()) not in body
    assert "4242" not in body


def test_instance_details_are_shown_to_staff(staff_client, monkeypatch):
    from apps.realtime.state import STATE

    monkeypatch.setattr(STATE, "top_users", lambda limit=10: [(4242, 3)])

    response = staff_client.get("/ops/instance")

    assert response.status_code == 200
    body = response.json()
    assert body["process"] == "test"
    assert body["realtime"]["instance"]["id"] == STATE.instance_id
    assert body["realtime"]["instance"]["top_users"] == [{"user_id": 4242, "connections": 3}]
    assert body["realtime"]["cluster"]["source"] == "none"  # no heartbeat in this process: no Redis call


@pytest.mark.parametrize("who", ["anonymous", "member"])
def test_instance_details_are_refused_to_anyone_but_staff(who, client, member_client):
    response = (client if who == "anonymous" else member_client).get("/ops/instance")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert "instance" not in response.json()


def test_readiness_answers_503_while_the_instance_drains(client, monkeypatch):
    from apps.realtime.state import STATE

    monkeypatch.setattr(STATE, "draining", True)

    response = client.get("/ready")

    assert response.status_code == 503
    assert response.json()["failing"] == ["draining"]


def test_readiness_answers_ok_when_postgres_and_redis_answer(client):
    response = client.get("/ready")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["failing"] == []
    assert set(body["checks"]) == {"postgres", "redis"}


def test_readiness_names_redis_when_redis_is_down(client, settings):
    settings.REDIS_URL = "unix:///nonexistent/redis.sock"

    response = client.get("/ready")

    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["redis"]
    assert body["checks"]["postgres"]["status"] == "ok"
    assert "nonexistent" not in response.content.decode()


def test_readiness_fails_within_its_bound_when_redis_hangs(client, settings):
    settings.HEALTH_CHECK_TIMEOUT = 0.3
    with silent_tcp_server() as port:
        settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"

        response = client.get("/ready")

    assert response.status_code == 503
    assert response.json()["failing"] == ["redis"]
    assert response.json()["checks"]["redis"]["duration_ms"] < 1500


def test_readiness_is_never_cached(client):
    response = client.get("/ready")

    assert "no-cache" in response["Cache-Control"]
