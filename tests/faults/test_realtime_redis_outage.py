"""Redis goes away under a web process with open sockets, then comes back (docs/realtime.md, "During a Redis outage")."""

from __future__ import annotations

import asyncio
import json

import pytest
import requests
from django.conf import settings

from apps.realtime.services import publish_event
from tests.factories import UserFactory
from tests.fixtures.redis_proxy import redis_proxy
from tests.realtime.helpers import close_code_of, next_event, open_socket, realtime_server, session_cookie

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(90)]


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
