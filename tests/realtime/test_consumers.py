"""/ws/events/ and /ws/ops/ served by a real uvicorn process, spoken to by real clients."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.exceptions import InvalidStatus

from apps.realtime.services import publish_event
from tests.factories import StaffUserFactory, UserFactory
from tests.support.realtime import close_code_of, is_silent, next_event, open_socket, realtime_server, session_cookie

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120), pytest.mark.slow]


@pytest.fixture
def server(realtime_namespace):
    with realtime_server(**realtime_namespace) as running:
        yield running


def test_an_event_reaches_its_user_and_no_one_else(server):
    alice, bob = UserFactory(), UserFactory()
    alice_cookie, bob_cookie = session_cookie(alice), session_cookie(bob)

    async def scenario():
        async with await open_socket(server, alice_cookie) as a, await open_socket(server, bob_cookie) as b:
            await asyncio.to_thread(
                publish_event,
                event_type="payment.succeeded",
                object_id=42,
                data={"amount": "10.00"},
                user_ids=[alice.id],
                correlation_id="corr-1",
            )
            return await next_event(a), await is_silent(b)

    received, bob_heard_nothing = asyncio.run(scenario())

    assert received["type"] == "payment.succeeded"
    assert received["id"] == 42
    assert received["correlation_id"] == "corr-1"
    assert received["data"] == {"amount": "10.00"}
    assert "occurred_at" in received
    assert bob_heard_nothing


def test_a_staff_group_event_reaches_staff_once_even_when_also_sent_to_the_user(server):
    staff = StaffUserFactory()
    cookie = session_cookie(staff)

    async def scenario():
        async with await open_socket(server, cookie) as socket:
            await asyncio.to_thread(
                publish_event,
                event_type="allocation.made",
                object_id="7",
                data={},
                user_ids=[staff.id],
                groups=["staff"],
            )
            return await next_event(socket), await is_silent(socket)

    received, no_duplicate = asyncio.run(scenario())

    assert received["type"] == "allocation.made"
    assert no_duplicate


def test_the_connection_past_the_instance_cap_is_refused_with_1013(realtime_namespace):
    users = [UserFactory() for _ in range(11)]
    cookies = [session_cookie(user) for user in users for _ in range(5)][:51]

    async def scenario(server):
        sockets = [await open_socket(server, cookie) for cookie in cookies[:50]]
        extra = await open_socket(server, cookies[50])
        refused_code = await close_code_of(extra)
        still_open = [await _pong(socket) for socket in sockets[:3]]
        for socket in sockets:
            await socket.close()
        return refused_code, still_open

    with realtime_server(WS_MAX_CONNECTIONS_PER_INSTANCE="50", **realtime_namespace) as server:
        refused_code, still_open = asyncio.run(scenario(server))

    assert refused_code == 1013
    assert all(still_open)


def test_the_newest_connection_past_the_per_user_cap_is_refused_with_1008(realtime_namespace):
    cookie = session_cookie(UserFactory())

    async def scenario(server):
        first, second = await open_socket(server, cookie), await open_socket(server, cookie)
        third = await open_socket(server, cookie)
        return await close_code_of(third), await _pong(first), await _pong(second)

    with realtime_server(WS_MAX_CONNECTIONS_PER_USER="2", **realtime_namespace) as server:
        refused_code, first_open, second_open = asyncio.run(scenario(server))

    assert refused_code == 1008
    assert first_open and second_open


@pytest.mark.parametrize("origin", ["http://evil.example.com", None])
def test_a_cross_origin_or_origin_less_handshake_is_refused(server, origin):
    cookie = session_cookie(UserFactory())

    async def scenario():
        with pytest.raises(InvalidStatus) as refused:
            await open_socket(server, cookie, origin=origin)
        return refused.value.response.status_code

    assert asyncio.run(scenario()) == 403


def test_an_anonymous_socket_is_closed_with_4401(server):
    async def scenario():
        return await close_code_of(await open_socket(server, None))

    assert asyncio.run(scenario()) == 4401


def test_a_non_staff_user_on_the_ops_stream_is_closed_with_4403(server):
    cookie = session_cookie(UserFactory())

    async def scenario():
        return await close_code_of(await open_socket(server, cookie, path="/ws/ops/"))

    assert asyncio.run(scenario()) == 4403


def test_staff_on_the_ops_stream_get_a_snapshot_of_the_counts(server):
    cookie = session_cookie(StaffUserFactory())

    async def scenario():
        async with await open_socket(server, cookie, path="/ws/ops/") as socket:
            return await next_event(socket)

    snapshot = asyncio.run(scenario())

    assert snapshot["type"] == "ops.snapshot"
    assert snapshot["data"]["instance"]["connections"] == 1


def test_the_ops_stream_gets_fresh_counts_every_heartbeat_and_the_events_stream_does_not(server):
    staff_cookie, user_cookie = session_cookie(StaffUserFactory()), session_cookie(UserFactory())

    async def scenario():
        async with await open_socket(server, staff_cookie, path="/ws/ops/") as ops:
            first = await next_event(ops)
            async with await open_socket(server, user_cookie) as events:
                later = await next_event(ops, timeout=3)  # heartbeat every 0.3 s in tests
                # The console's live overview ("ops.overview") comes on the same stream: skip it.
                while later["type"] != "ops.snapshot" or later["data"]["instance"]["connections"] < 2:
                    later = await next_event(ops, timeout=3)
                return first, later, await is_silent(events, seconds=1)

    first, later, events_heard_nothing = asyncio.run(scenario())

    assert first["data"]["instance"]["connections"] == 1
    assert later["type"] == "ops.snapshot"
    assert later["data"]["instance"]["connections"] == 2
    assert events_heard_nothing


def test_malformed_json_gets_an_error_frame_then_on_repeat_a_1007_close(server):
    cookie = session_cookie(UserFactory())

    async def scenario():
        async with await open_socket(server, cookie) as socket:
            await socket.send("{not json")
            first = await next_event(socket)
            for _ in range(3):
                await socket.send("{not json")
            return first, await close_code_of(socket)

    first, code = asyncio.run(scenario())

    assert first == {"type": "error", "error": {"code": "malformed_json", "message": "Frame is not valid JSON."}}
    assert code == 1007


def test_unknown_types_and_oversized_frames_get_error_frames(server):
    cookie = session_cookie(UserFactory())

    async def scenario():
        async with await open_socket(server, cookie) as socket:
            await socket.send(json.dumps({"type": "subscribe_all"}))
            unknown = await next_event(socket)
            await socket.send(json.dumps({"type": "ping", "pad": "x" * 5000}))
            oversized = await next_event(socket)
            return unknown["error"]["code"], oversized["error"]["code"]

    assert asyncio.run(scenario()) == ("unknown_type", "message_too_large")


def test_a_flood_of_frames_is_rate_limited_then_closed_with_1008(realtime_namespace):
    cookie = session_cookie(UserFactory())

    async def scenario(server):
        async with await open_socket(server, cookie) as socket:
            for _ in range(20):
                await socket.send(json.dumps({"type": "ping"}))
            return await close_code_of(socket)

    with realtime_server(WS_INBOUND_RATE="5/s", **realtime_namespace) as server:
        assert asyncio.run(scenario(server)) == 1008


async def _pong(socket) -> bool:
    await socket.send(json.dumps({"type": "ping"}))
    return (await next_event(socket))["type"] == "pong"
