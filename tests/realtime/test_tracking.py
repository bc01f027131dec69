"""Connection tracking in Redis: the per-user cap across instances, and expiry of what a crash leaves."""

from __future__ import annotations

import asyncio
import time

from apps.realtime import tracking
from apps.realtime.state import InstanceState
from lib.redis import get_client


def _track(connection_id: str, user_id: int = 1, instance_id: str = "a") -> str:
    return asyncio.run(tracking.connection_track(connection_id=connection_id, user_id=user_id, instance_id=instance_id))


def test_the_connection_past_the_per_user_cap_is_refused_whichever_instance_holds_the_others(
    realtime_namespace, settings
):
    settings.WS_MAX_CONNECTIONS_PER_USER = 3

    results = [_track(f"c{i}", instance_id="ab"[i % 2]) for i in range(4)]

    assert results == ["ok", "ok", "ok", "user_limit"]


def test_connections_no_heartbeat_renews_stop_counting_against_the_cap_within_the_ttl(realtime_namespace, settings):
    settings.WS_MAX_CONNECTIONS_PER_USER = 2
    settings.WS_TRACKING_TTL = 0.5
    _track("crashed-1"), _track("crashed-2")
    refused_while_live = _track("new-1")

    time.sleep(0.6)

    assert refused_while_live == "user_limit"
    assert _track("new-2") == "ok"
    assert get_client("read").zrange(tracking.key("user", 1), 0, -1) == [b"new-2"]


def test_the_heartbeat_keeps_its_connections_counted_past_the_ttl(realtime_namespace, settings):
    settings.WS_MAX_CONNECTIONS_PER_USER = 1
    settings.WS_TRACKING_TTL = 0.5
    state = InstanceState(instance_id="a")
    _track("live")
    state.connections["live"] = type("Consumer", (), {"user_id": 1, "connection_id": "live"})()
    state.per_user[1] = 1

    for _ in range(3):
        time.sleep(0.3)
        asyncio.run(tracking.instance_heartbeat(state))

    assert _track("another") == "user_limit"


def test_untracking_removes_the_connection_and_its_place_in_the_users_set(realtime_namespace):
    _track("gone")

    asyncio.run(tracking.connection_untrack(connection_id="gone", user_id=1))

    redis = get_client("read")
    assert redis.exists(tracking.key("connection", "gone")) == 0
    assert redis.zcard(tracking.key("user", 1)) == 0
