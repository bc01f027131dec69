"""A client that keeps sending after the server closed its socket costs a counter, not a log line per frame."""

from __future__ import annotations

import json

import pytest

from tests.factories import UserFactory
from tests.support.realtime import health, masked_text_frame, never_reading_client, realtime_server, session_cookie
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120), pytest.mark.slow]

FLOOD = 5000


def test_a_flood_after_a_policy_close_is_dropped_quietly_and_counted(realtime_namespace, tmp_path):
    cookie = session_cookie(UserFactory())
    log = tmp_path / "server.log"
    frame = masked_text_frame('{"type": "no-such-type"}')  # the 4th (WS_MAX_PROTOCOL_ERRORS + 1) closes with 1008

    with realtime_server(log, **realtime_namespace) as server:
        raw = never_reading_client(server, cookie)
        raw.sendall(frame * FLOOD)
        closed = wait_until(lambda: health(server)["connections"] == 0, timeout=30, interval=0.3)
        stats = health(server)
        raw.close()

    lines = log.read_text().splitlines()
    events = [json.loads(line) for line in lines if line.startswith("{")]
    connection_id = next(e["connection_id"] for e in events if e["event"] == "ws_connected")
    about_it = [e["event"] for e in events if e.get("connection_id") == connection_id]
    assert closed, json.dumps(stats)
    assert stats["frames_after_close"] > 0, json.dumps(stats)
    assert about_it == ["ws_connected", "ws_closed_for_errors", "ws_disconnected"], about_it
    assert not [line for line in lines if "Traceback" in line or "exception" in line.lower()]
    assert len(lines) < 20, lines[:20]
