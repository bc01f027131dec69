"""One layer channel per process: groups fan out in memory, Redis subscriptions follow local membership."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from channels.layers import get_channel_layer

from apps.core.redis import get_client
from apps.realtime.router import GroupRouter
from tests.factories import StaffUserFactory, UserFactory
from tests.realtime.helpers import open_socket, realtime_server, session_cookie


class Inbox:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def realtime_event(self, message: dict[str, Any]) -> None:
        self.messages.append(message)


def _event(group: str, key: str) -> dict[str, Any]:
    return {"type": "realtime.event", "key": key, "text": "{}", "group": group}


async def _settle() -> None:
    await asyncio.sleep(0.3)


def _subscribers(channel_prefix: str, group: str) -> int:
    [(_, count)] = get_client("read").pubsub_numsub(f"{channel_prefix}__group__{group}")
    return count


def test_an_event_reaches_the_members_of_its_group_and_no_one_else(realtime_namespace):
    router, alice_tab, alice_other_tab, bob = GroupRouter(), Inbox(), Inbox(), Inbox()

    async def scenario() -> None:
        layer = get_channel_layer()
        await router.join(["user.1"], alice_tab)
        await router.join(["user.1"], alice_other_tab)
        await router.join(["user.2"], bob)
        await layer.group_send("user.1", _event("user.1", "k1"))
        await _settle()
        await layer.flush()

    asyncio.run(scenario())

    assert [m["key"] for m in alice_tab.messages] == ["k1"]
    assert [m["key"] for m in alice_other_tab.messages] == ["k1"]
    assert bob.messages == []


def test_the_last_local_member_leaving_takes_the_process_out_of_the_group(realtime_namespace):
    router, first, second = GroupRouter(), Inbox(), Inbox()
    prefix = realtime_namespace["CHANNEL_LAYER_PREFIX"]
    counts = []

    async def scenario() -> None:
        await router.join(["user.7"], first)
        await router.join(["user.7"], second)
        counts.append(await asyncio.to_thread(_subscribers, prefix, "user.7"))
        await router.leave(["user.7"], first)
        counts.append(await asyncio.to_thread(_subscribers, prefix, "user.7"))
        await router.leave(["user.7"], second)
        counts.append(await asyncio.to_thread(_subscribers, prefix, "user.7"))
        await get_channel_layer().flush()

    asyncio.run(scenario())

    assert counts == [1, 1, 0]
    assert router.members == {}


def test_a_join_that_cannot_reach_redis_leaves_the_receiver_in_no_group(settings):
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": settings.CHANNEL_LAYERS["default"]["BACKEND"],
            "CONFIG": {"hosts": [{"address": "unix:///nonexistent/redis.sock", "socket_connect_timeout": 0.2}]},
        }
    }
    router, inbox = GroupRouter(), Inbox()

    async def scenario() -> BaseException | None:
        try:
            async with asyncio.timeout(2):
                await router.join(["user.1", "staff"], inbox)
        except Exception as exc:  # the layer's connection error, or the bound
            return exc
        return None

    failure = asyncio.run(scenario())

    assert failure is not None
    assert router.members == {}


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(60)
def test_sockets_share_their_process_channel_so_redis_holds_one_subscription_per_group(realtime_namespace):
    alice, staff = UserFactory(), StaffUserFactory()
    alice_cookie, staff_cookie = session_cookie(alice), session_cookie(staff)
    prefix = realtime_namespace["CHANNEL_LAYER_PREFIX"]

    async def scenario(server) -> list[bytes]:
        sockets = [await open_socket(server, alice_cookie) for _ in range(4)]
        sockets.append(await open_socket(server, staff_cookie))
        channels = await asyncio.to_thread(get_client("read").pubsub_channels, f"{prefix}*")
        for socket in sockets:
            await socket.close()
        return channels

    with realtime_server(**realtime_namespace) as server:
        channels = asyncio.run(scenario(server))

    groups = sorted(c.decode().removeprefix(f"{prefix}__group__") for c in channels if b"__group__" in c)
    assert groups == sorted([f"user.{alice.id}", f"user.{staff.id}", "staff"])
    # Besides the groups: the process's own channel, not one per socket.
    assert len(channels) - len(groups) == 1, channels
