"""/ops/realtime: instances against their cap, top users, refusals by reason, event rates, heartbeats, draining."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator

import pytest
from asgiref.sync import async_to_sync

from apps.console.shared_cache import shared_page_data_changed
from apps.realtime import tracking
from apps.realtime.state import STATE
from apps.telemetry.reporter import snapshot_publish
from apps.telemetry.snapshot import Window, identity_here, snapshot_build
from lib import metrics
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def own_tracking_keys(settings) -> None:
    settings.WS_KEY_PREFIX = f"test-ws-console:{uuid.uuid4().hex}"


@pytest.fixture
def clean_state() -> Iterator[None]:
    """This process's realtime state, put back after the test."""
    per_user, draining = STATE.per_user, STATE.draining
    STATE.per_user = Counter()
    try:
        yield
    finally:
        STATE.per_user, STATE.draining = per_user, draining


def _publish(kind: str) -> dict:
    snapshot = snapshot_build(identity=identity_here(kind=kind), window=Window(seconds=60))
    assert snapshot_publish(snapshot)
    shared_page_data_changed(page="realtime")
    return snapshot


def test_a_quiet_cluster_says_nobody_is_connected(staff_client):
    page = staff_client.get("/ops/realtime").content.decode()

    assert "No web instance reports WebSockets" in page
    assert "Nobody is connected." in page
    assert "No instance is draining." in page


def test_a_web_instance_shows_its_connections_against_the_cap(staff_client, settings):
    _publish("web")

    instance = staff_client.get("/api/ops/realtime").json()["instances"][0]

    assert (instance["connections"], instance["cap"]) == (0, settings.WS_MAX_CONNECTIONS_PER_INSTANCE)
    assert instance["instance_id"] == STATE.instance_id
    assert instance["level"] == "ok"


def test_refused_handshakes_are_counted_by_reason(staff_client):
    _publish("web")  # counters are the process's since it started: earlier tests' refusals are in `before`
    before = staff_client.get("/api/ops/realtime").json()["totals"]["refused"] or {}
    for reason in ("origin", "origin", "instance_limit", "unauthenticated"):
        metrics.increment("ws_refused", reason=reason)
    _publish("web")

    refused = staff_client.get("/api/ops/realtime").json()["totals"]["refused"]

    gained = {group: refused[group] - before.get(group, 0) for group in ("origin", "over cap", "auth")}
    assert gained == {"origin": 2, "over cap": 1, "auth": 1}


def test_events_published_by_any_process_count_towards_the_rate(staff_client):
    metrics.increment("ws_events_published")
    _publish("worker")

    totals = staff_client.get("/api/ops/realtime").json()["totals"]

    assert totals["per_s"]["published"] > 0
    assert {"delivered", "dropped", "publish_failed"} <= set(totals["per_s"])


def test_a_draining_instance_is_listed_and_amber(staff_client, clean_state):
    STATE.draining = True
    _publish("web")

    body = staff_client.get("/api/ops/realtime").json()

    assert body["draining"] == [STATE.instance_id]
    assert body["instances"][0]["level"] == "degraded"


def test_the_heartbeat_age_and_the_users_with_the_most_sockets_come_from_the_tracking_keys(
    staff_client, clean_state, settings
):
    settings.WS_MAX_CONNECTIONS_PER_USER = 3
    user = UserFactory(username="busy-user")
    STATE.per_user[user.id] = 3
    async_to_sync(tracking.instance_heartbeat)(STATE)
    _publish("web")

    body = staff_client.get("/api/ops/realtime").json()

    assert body["top_users"][0] == {
        "user_id": user.id,
        "connections": 3,
        "username": "busy-user",
        "cap": 3,
        "at_cap": True,
    }
    assert 0 <= body["instances"][0]["heartbeat_age_s"] < 5
    assert "busy-user" in staff_client.get("/ops/realtime").content.decode()


def test_the_page_and_its_json_twin_agree(staff_client):
    assert staff_client.get("/ops/realtime?format=json", follow=True).json().keys() == (
        staff_client.get("/api/ops/realtime").json().keys()
    )


def test_the_live_region_is_served_on_its_own(staff_client):
    fragment = staff_client.get("/ops/realtime?format=fragment").content.decode()

    assert 'id="rt-instances"' in fragment
    assert "<html" not in fragment


def test_only_staff_see_the_page(member_client, client):
    assert member_client.get("/ops/realtime").status_code == 403
    assert client.get("/api/ops/realtime").status_code == 401


def test_the_summary_bar_leads_to_the_realtime_page(staff_client):
    assert 'href="/ops/realtime" data-key="ws"' in staff_client.get("/ops/").content.decode()
