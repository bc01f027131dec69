"""One layer channel per process: groups fan out in memory, Redis subscriptions follow local membership."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from channels.layers import get_channel_layer

from apps.realtime.router import GroupRouter
from apps.realtime.services import publish_event
from lib import metrics
from lib.redis import get_client
from ops_console.settings import channel_layers_for
from tests.factories import StaffUserFactory, UserFactory
from tests.support.realtime import next_event, open_socket, realtime_server, session_cookie


class Inbox:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    @property
    def keys(self) -> list[str]:
        return [message["key"] for message in self.messages]

    def realtime_event(self, message: dict[str, Any]) -> None:
        self.messages.append(message)


class BrokenInbox:
    def realtime_event(self, message: dict[str, Any]) -> None:
        raise RuntimeError("a bug in one socket's handler")


def _event(group: str, key: str) -> dict[str, Any]:
    return {"type": "realtime.event", "key": key, "text": "{}", "group": group}


async def _until(predicate: Any, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def _subscribers(channel_prefix: str, group: str) -> int:
    [(_, count)] = await asyncio.to_thread(get_client("read").pubsub_numsub, f"{channel_prefix}__group__{group}")
    return count


def test_an_event_reaches_the_members_of_its_group_and_no_one_else(realtime_namespace):
    router, alice_tab, alice_other_tab, bob = GroupRouter(), Inbox(), Inbox(), Inbox()

    async def scenario() -> None:
        layer = get_channel_layer()
        await router.join(["user.1"], alice_tab)
        await router.join(["user.1"], alice_other_tab)
        await router.join(["user.2"], bob)
        await layer.group_send("user.1", _event("user.1", "k1"))
        await _until(lambda: alice_tab.keys and alice_other_tab.keys)
        await layer.flush()

    asyncio.run(scenario())

    assert alice_tab.keys == ["k1"]
    assert alice_other_tab.keys == ["k1"]
    assert bob.messages == []  # delivered in the same pass as Alice's, had it been routed to him


def test_the_last_local_member_leaving_takes_the_process_out_of_the_group(realtime_namespace):
    router, first, second = GroupRouter(), Inbox(), Inbox()
    prefix = realtime_namespace["CHANNEL_LAYER_PREFIX"]
    counts = []

    async def scenario() -> None:
        await router.join(["user.7"], first)
        await router.join(["user.7"], second)
        counts.append(await _subscribers(prefix, "user.7"))
        router.leave(["user.7"], first)
        await router.tidied()
        counts.append(await _subscribers(prefix, "user.7"))
        router.leave(["user.7"], second)
        await router.tidied()
        counts.append(await _subscribers(prefix, "user.7"))
        await get_channel_layer().flush()

    asyncio.run(scenario())

    assert counts == [1, 1, 0]
    assert router.members == {}
    assert router.to_discard == set()


def test_a_socket_joining_while_its_group_is_being_discarded_keeps_it_subscribed(realtime_namespace):
    router, closing_tab, new_tab = GroupRouter(), Inbox(), Inbox()
    prefix = realtime_namespace["CHANNEL_LAYER_PREFIX"]
    layer = get_channel_layer()
    group_discard = layer.group_discard
    discarding = asyncio.Event()

    async def slow_group_discard(group: str, channel: str) -> None:  # a Redis round trip that takes a while
        discarding.set()
        await asyncio.sleep(0.3)
        await group_discard(group, channel)

    layer.group_discard = slow_group_discard

    async def scenario() -> int:
        await router.join(["staff"], closing_tab)
        router.leave(["staff"], closing_tab)
        await discarding.wait()  # the discard is in flight
        await router.join(["staff"], new_tab)
        await router.tidied()
        await layer.group_send("staff", _event("staff", "k1"))
        await _until(lambda: new_tab.keys)
        subscribers = await _subscribers(prefix, "staff")
        await layer.flush()
        return subscribers

    try:
        subscribers = asyncio.run(scenario())
    finally:
        del layer.group_discard

    assert subscribers == 1
    assert new_tab.keys == ["k1"]
    assert closing_tab.messages == []


def test_a_join_that_fails_halfway_leaves_the_receiver_in_no_group_and_redis_unsubscribed(realtime_namespace):
    router, inbox = GroupRouter(), Inbox()
    prefix = realtime_namespace["CHANNEL_LAYER_PREFIX"]
    layer = get_channel_layer()
    group_add = layer.group_add

    async def redis_gone_before_the_second_group(group: str, channel: str) -> None:
        if group == "staff":
            raise ConnectionError("Redis went away")
        await group_add(group, channel)

    layer.group_add = redis_gone_before_the_second_group

    async def scenario() -> tuple[BaseException | None, int]:
        failure = None
        try:
            await router.join(["user.1", "staff"], inbox)
        except ConnectionError as exc:
            failure = exc
        layer.group_add = group_add
        await router.tidied()
        subscribers = await _subscribers(prefix, "user.1")
        await layer.flush()
        return failure, subscribers

    try:
        failure, subscribers = asyncio.run(scenario())
    finally:
        vars(layer).pop("group_add", None)

    assert failure is not None
    assert router.members == {}
    assert subscribers == 0


def test_a_discard_whose_unsubscribe_failed_is_done_by_the_next_pass(realtime_namespace):
    router, inbox = GroupRouter(), Inbox()
    prefix = realtime_namespace["CHANNEL_LAYER_PREFIX"]
    layer = get_channel_layer()

    async def scenario() -> list[int]:
        await router.join(["user.3"], inbox)
        # Fault injection inside the library: the pub/sub layer forgets the group
        # locally, then its UNSUBSCRIBE fails (Redis went away at that moment).
        shard = layer._get_layer()._get_shard(f"{prefix}__group__user.3")
        unsubscribe = shard.unsubscribe

        async def failing_unsubscribe(channel: str) -> None:
            raise ConnectionError("Redis went away")

        shard.unsubscribe = failing_unsubscribe
        router.leave(["user.3"], inbox)
        await router.tidied()
        counts = [len(router.to_discard), await _subscribers(prefix, "user.3")]
        shard.unsubscribe = unsubscribe
        router.tidy_soon()  # what the next heartbeat does
        await router.tidied()
        counts += [len(router.to_discard), await _subscribers(prefix, "user.3")]
        await layer.flush()
        return counts

    counts = asyncio.run(scenario())

    assert counts == [1, 1, 0, 0]


def test_a_socket_joining_while_its_group_waits_to_be_discarded_keeps_it_subscribed(realtime_namespace):
    router, closing_tab, new_tab = GroupRouter(), Inbox(), Inbox()
    prefix = realtime_namespace["CHANNEL_LAYER_PREFIX"]

    async def scenario() -> int:
        layer = get_channel_layer()
        await router.join(["staff"], closing_tab)
        router.leave(["staff"], closing_tab)  # its discard is scheduled, not yet run
        await router.join(["staff"], new_tab)
        await router.tidied()
        await layer.group_send("staff", _event("staff", "k1"))
        await _until(lambda: new_tab.keys)
        subscribers = await _subscribers(prefix, "staff")
        await layer.flush()
        return subscribers

    subscribers = asyncio.run(scenario())

    assert subscribers == 1
    assert new_tab.keys == ["k1"]


def test_a_socket_whose_handler_raises_does_not_stop_delivery_to_the_others(realtime_namespace):
    router, broken, healthy = GroupRouter(), BrokenInbox(), Inbox()

    async def scenario() -> None:
        layer = get_channel_layer()
        await router.join(["user.1"], broken)
        await router.join(["user.1"], healthy)
        await layer.group_send("user.1", _event("user.1", "k1"))
        await layer.group_send("user.1", _event("user.1", "k2"))
        await _until(lambda: len(healthy.keys) == 2)
        await layer.flush()

    asyncio.run(scenario())

    assert healthy.keys == ["k1", "k2"]


def test_a_message_that_names_no_group_is_dropped_and_counted():
    router, inbox = GroupRouter(), Inbox()
    router.members["user.1"] = {inbox}
    before = metrics.counter_value("ws_messages_dropped", reason="no_group")

    router.deliver({"type": "realtime.event", "key": "k", "text": "{}"})

    assert inbox.messages == []
    assert metrics.counter_value("ws_messages_dropped", reason="no_group") == before + 1


@pytest.mark.slow
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


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(60)
def test_with_the_core_layer_open_sockets_get_events_again_after_redis_lost_the_groups(realtime_namespace, settings):
    alice = UserFactory()
    cookie = session_cookie(alice)
    prefix = realtime_namespace["CHANNEL_LAYER_PREFIX"]
    core = channel_layers_for("core")["default"]
    settings.CHANNEL_LAYERS = {"default": {**core, "CONFIG": {**core["CONFIG"], "prefix": prefix}}}

    async def scenario(server) -> dict[str, Any]:
        async with await open_socket(server, cookie) as socket:
            redis = get_client("write")
            lost = await asyncio.to_thread(lambda: [redis.delete(k) for k in redis.scan_iter(match=f"{prefix}*group*")])
            await asyncio.sleep(1)  # a few heartbeats (0.3 s in tests)
            await asyncio.to_thread(publish_event, event_type="t", object_id=1, data={}, user_ids=[alice.id])
            return {"lost": len(lost), "event": await next_event(socket, timeout=3)}

    with realtime_server(WS_CHANNEL_LAYER="core", **realtime_namespace) as server:
        outcome = asyncio.run(scenario(server))

    assert outcome["lost"] >= 1  # Redis really had forgotten the user's group
    assert outcome["event"]["type"] == "t"
