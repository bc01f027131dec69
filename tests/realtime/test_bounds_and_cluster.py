"""Memory bound, cross-instance routing and tracking, crash expiry, churn and graceful drain."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time

import pytest

from apps.realtime.selectors import realtime_connection_stats
from apps.realtime.services import publish_event
from lib.redis import get_client
from tests.factories import UserFactory
from tests.support.realtime import (
    TEST_TTL,
    close_code_of,
    health,
    never_reading_client,
    next_event,
    open_socket,
    realtime_server,
    session_cookie,
    tracking_keys,
)
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(180), pytest.mark.slow]


def _cluster() -> dict:
    return realtime_connection_stats(cluster="fresh")["cluster"]


def test_a_client_that_never_reads_is_dropped_and_server_memory_stays_bounded(realtime_namespace):
    slow = UserFactory()
    cookie = session_cookie(slow)
    payload = {"blob": "x" * 16_384}

    with realtime_server(**realtime_namespace) as server:
        # A raw client: completes the handshake, then never reads; a small receive buffer
        # keeps the kernel from absorbing megabytes on its behalf.
        raw = never_reading_client(server, cookie)
        before = server.rss_kib()
        for _ in range(600):  # ~10 MiB: beyond the client's buffer, the server's socket buffer and the queue
            publish_event(event_type="t", object_id=1, data=payload, user_ids=[slow.id])
        dropped = wait_until(lambda: health(server)["slow_clients_dropped"] == 1, timeout=10)
        grown_kib = server.rss_kib() - before
        stats = health(server)
        raw.close()

    assert dropped, json.dumps(stats)
    # The bound: WS_OUTBOUND_QUEUE_SIZE (64) frames of 16 KiB plus the transport's 64 KiB buffer.
    assert grown_kib < 8 * 1024, grown_kib
    assert stats["messages_dropped"]["ws_messages_dropped{reason=queue_full}"] >= 1, json.dumps(stats)


def test_a_peer_that_stops_answering_pings_is_reaped_and_untracked_within_the_ping_bounds(realtime_namespace):
    cookie = session_cookie(UserFactory())
    pings = ("--ws-ping-interval", "0.5", "--ws-ping-timeout", "0.5")

    with realtime_server(flags=pings, **realtime_namespace) as server:
        raw = never_reading_client(server, cookie)  # a vanished peer: TCP stays up, nothing answers
        tracked = wait_until(lambda: _connection_keys(realtime_namespace["WS_KEY_PREFIX"]) == 1, timeout=5)
        opened_at = time.monotonic()
        reaped = wait_until(lambda: server_connections(server) == 0, timeout=10)
        elapsed = time.monotonic() - opened_at
        untracked = wait_until(lambda: _connection_keys(realtime_namespace["WS_KEY_PREFIX"]) == 0, timeout=5)
        raw.close()

    assert tracked
    assert reaped
    assert elapsed < 0.5 + 0.5 + 2  # interval + timeout, with room for a busy machine
    assert untracked


def _connection_keys(prefix: str) -> int:
    return sum(1 for k in tracking_keys(prefix) if b":connection:" in k)


def test_an_event_published_elsewhere_reaches_a_user_on_another_instance_and_counts_add_up(realtime_namespace):
    alice, bob = UserFactory(), UserFactory()
    alice_cookie, bob_cookie = session_cookie(alice), session_cookie(bob)

    async def scenario(a, b):
        on_a = [await open_socket(a, alice_cookie) for _ in range(3)]
        on_b = [await open_socket(b, bob_cookie) for _ in range(2)]
        await asyncio.sleep(1)  # a heartbeat on each
        counts = await asyncio.to_thread(_cluster)
        await asyncio.to_thread(publish_event, event_type="session.scheduled", object_id=9, data={}, user_ids=[bob.id])
        received = [await next_event(socket) for socket in on_b]
        for socket in on_a + on_b:
            await socket.close()
        return counts, received

    with realtime_server(**realtime_namespace) as a, realtime_server(**realtime_namespace) as b:
        counts, received = asyncio.run(scenario(a, b))

    assert counts["total_connections"] == 5
    assert sorted(i["connections"] for i in counts["instances"]) == [2, 3]
    assert counts["top_users"][0] == {"user_id": alice.id, "connections": 3}
    assert [event["type"] for event in received] == ["session.scheduled"] * 2


def test_a_killed_instance_leaves_the_counts_within_the_heartbeat_ttl(realtime_namespace):
    user = UserFactory()
    cookie = session_cookie(user)

    async def connect_all(a, b):
        sockets = [await open_socket(a, cookie)] + [await open_socket(b, cookie) for _ in range(3)]
        await asyncio.sleep(1)
        return sockets

    with realtime_server(**realtime_namespace) as a, realtime_server(**realtime_namespace) as b:
        loop = asyncio.new_event_loop()
        sockets = loop.run_until_complete(connect_all(a, b))
        assert _cluster()["total_connections"] == 4

        os.kill(b.process.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        recovered = wait_until(lambda: _cluster()["total_connections"] == 1, timeout=float(TEST_TTL) + 2)
        elapsed = time.monotonic() - killed_at
        # B's connection ids no longer hold the user's slots: new connections are accepted.
        fresh = [loop.run_until_complete(open_socket(a, cookie)) for _ in range(4)]
        codes = [loop.run_until_complete(close_code_of(s, timeout=0.5)) for s in fresh]
        for socket in sockets[:1] + fresh:
            loop.run_until_complete(socket.close())
        loop.close()

    assert recovered, _cluster()
    assert elapsed <= float(TEST_TTL) + 2
    assert codes == [None] * 4  # none refused: still open when the read timed out


CHURN_CLIENTS = 5


def test_a_thousand_connect_and_abrupt_drop_cycles_leave_tracking_at_its_baseline(realtime_namespace, tmp_path):
    cookies = [session_cookie(UserFactory()) for _ in range(CHURN_CLIENTS)]

    async def churn(server):
        # Steady pacing: each client reconnects as soon as its last drop is done, so at most
        # CHURN_CLIENTS handshakes are ever in flight (bursts of 25 queued behind one another on a busy CI box).
        async def client(cookie):
            for _ in range(1000 // CHURN_CLIENTS):
                socket = await open_socket(server, cookie, open_timeout=30)
                socket.transport.abort()  # no close frame: a vanished client

        await asyncio.gather(*(client(cookie) for cookie in cookies))

    with realtime_server(tmp_path / "server.log", WS_MAX_CONNECTIONS_PER_USER="50", **realtime_namespace) as server:
        asyncio.run(churn(server))
        settled = wait_until(lambda: server_connections(server) == 0, timeout=30)
        local_groups = health(server)["groups"]
        connection_keys = wait_until(
            lambda: not [k for k in tracking_keys(realtime_namespace["WS_KEY_PREFIX"]) if b":connection:" in k],
            timeout=10,
        )
        user_sets = [k for k in tracking_keys(realtime_namespace["WS_KEY_PREFIX"]) if b":user:" in k]
        members = sum(get_client("read").zcard(k) for k in user_sets)

    assert settled
    assert local_groups == 0  # no consumer left behind in the router
    assert connection_keys
    assert members == 0


def test_sigterm_closes_open_sockets_with_1001_and_removes_the_tracking_keys(realtime_namespace):
    cookie = session_cookie(UserFactory())

    async def scenario(server):
        sockets = [await open_socket(server, cookie) for _ in range(3)]
        await asyncio.sleep(0.5)
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        codes = await asyncio.gather(*(close_code_of(s, timeout=10) for s in sockets))
        return codes, time.monotonic() - started

    with realtime_server(WS_DRAIN_TIMEOUT="5", **realtime_namespace) as server:
        codes, elapsed = asyncio.run(scenario(server))
        exited = server.process.wait(timeout=15)

    assert codes == [1001, 1001, 1001]
    assert elapsed < 5
    assert exited in (0, -signal.SIGTERM)  # uvicorn re-raises SIGTERM once it has shut down
    prefix = realtime_namespace["WS_KEY_PREFIX"]
    assert list(get_client("read").scan_iter(match=f"{prefix}:*")) == []  # the instance's own keys too


def server_connections(server) -> int:
    return health(server)["connections"]
