"""Redis goes away or slows down under a web process with sockets (docs/realtime.md, "During a Redis outage")."""

from __future__ import annotations

import asyncio
import json

import pytest
import requests
from django.conf import settings

from apps.realtime.services import publish_event
from tests.factories import UserFactory
from tests.support.proxies import redis_proxy
from tests.support.realtime import (
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

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(90), pytest.mark.slow]


def test_open_sockets_survive_a_redis_outage_new_ones_get_1013_and_events_flow_again_after_it(realtime_namespace):
    alice, bob = UserFactory(), UserFactory()
    alice_cookie, bob_cookie = session_cookie(alice), session_cookie(bob)

    async def scenario(server, proxy) -> dict:
        socket = await open_socket(server, alice_cookie)
        proxy.cut()
        await socket.send(json.dumps({"type": "ping"}))
        pong = await next_event(socket)
        refused = await close_code_of(await open_socket(server, bob_cookie))
        health = await asyncio.to_thread(requests.get, f"{server.http}/health", timeout=5)
        proxy.restore()
        delivered = await _first_event_after_recovery(socket, alice.id)
        await socket.close()
        return {"pong": pong, "refused": refused, "health": health.status_code, "delivered": delivered}

    with redis_proxy(settings.REDIS_URL) as proxy, realtime_server(REDIS_URL=proxy.url, **realtime_namespace) as server:
        outcome = asyncio.run(scenario(server, proxy))

    assert outcome["pong"] == {"type": "pong"}
    assert outcome["refused"] == 1013
    assert outcome["health"] == 200
    assert outcome["delivered"] is not None and outcome["delivered"]["type"] == "payment.succeeded"


async def _first_event_after_recovery(socket, user_id: int) -> dict | None:
    """Publish once a second until the reconnected, resubscribed process delivers one (at most 15 s)."""
    for _ in range(15):
        await asyncio.to_thread(publish_event, event_type="payment.succeeded", object_id=1, data={}, user_ids=[user_id])
        try:
            return await next_event(socket, timeout=1)
        except TimeoutError:
            continue
    return None


def test_a_client_gone_while_its_handshake_waits_on_a_slow_redis_leaves_nothing_behind(realtime_namespace, tmp_path):
    user = UserFactory()
    cookie = session_cookie(user)
    prefix = realtime_namespace["WS_KEY_PREFIX"]
    log = tmp_path / "server.log"

    with (
        redis_proxy(settings.REDIS_URL) as proxy,
        realtime_server(log, REDIS_URL=proxy.url, WS_MAX_CONNECTIONS_PER_USER="1", **realtime_namespace) as server,
    ):
        proxy.delay = 0.05  # each Redis round trip of the handshake takes ~0.1 s: well inside its bounds
        never_reading_client(server, cookie, wait_for_answer=False).close()  # asks, then leaves at once
        # The handshake got as far as tracking and joining, then found the client gone (1006).
        closed_out = wait_until(lambda: '"code": 1006' in log.read_text(), timeout=10)
        cleaned = wait_until(lambda: health(server)["connections"] == 0 and not tracking_keys(prefix), timeout=10)
        stats = health(server)
        proxy.delay = 0.0
        refused = asyncio.run(_close_code_of_a_new_socket(server, cookie))

    assert closed_out, log.read_text()[-2000:]
    assert cleaned, stats
    assert stats["groups"] == 0
    assert refused is None  # the user's one slot was given back: the new socket stays open


async def _close_code_of_a_new_socket(server, cookie: str) -> int | None:
    socket = await open_socket(server, cookie)
    code = await close_code_of(socket, timeout=1)
    await socket.close()
    return code
