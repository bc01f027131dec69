"""publish_event never raises into its caller, and sends the ops stream's events to the group of their kind."""

from __future__ import annotations

import asyncio
import logging

from apps.realtime.services import OPS_GROUP, ops_group_for, publish_event
from lib import metrics
from lib.redis import get_client
from tests.support.logs import logged_events


def test_publishing_while_redis_is_down_logs_counts_and_drops_the_event(settings, caplog):
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": settings.CHANNEL_LAYERS["default"]["BACKEND"],
            "CONFIG": {"hosts": [{"address": "unix:///nonexistent/redis.sock", "socket_connect_timeout": 0.2}]},
        }
    }
    before = metrics.counter_value("ws_publish_failed")

    with caplog.at_level(logging.WARNING, logger="apps.realtime.services"):
        publish_event(event_type="payment.failed", object_id=1, data={}, user_ids=[1])

    assert metrics.counter_value("ws_publish_failed") == before + 1
    [event] = logged_events(caplog, "realtime_publish_failed")
    assert event["error_class"] == "ConnectionError"


def test_an_event_for_no_one_is_not_sent(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    before = metrics.counter_value("ws_events_published")

    publish_event(event_type="payment.failed", object_id=1, data={})

    assert metrics.counter_value("ws_events_published") == before


def test_publishing_keeps_one_redis_connection_between_events(realtime_namespace):
    redis = get_client("read")
    publish_event(event_type="payment.failed", object_id=1, data={}, user_ids=[1])  # connects once
    connections_before = redis.info("stats")["total_connections_received"]
    published_before, failed_before = (
        metrics.counter_value("ws_events_published"),
        metrics.counter_value("ws_publish_failed"),
    )

    for object_id in range(30):
        publish_event(event_type="payment.failed", object_id=object_id, data={}, user_ids=[1])

    # A new event loop per call would connect (and disconnect) 30 times; the margin is for other clients.
    assert redis.info("stats")["total_connections_received"] - connections_before < 10
    assert metrics.counter_value("ws_events_published") == published_before + 30
    assert metrics.counter_value("ws_publish_failed") == failed_before


def test_publishing_from_inside_a_running_event_loop_is_delivered(realtime_namespace):
    layer_prefix = realtime_namespace["CHANNEL_LAYER_PREFIX"]
    subscriber = get_client("read").pubsub()
    subscriber.subscribe(f"{layer_prefix}__group__user.5")
    subscriber.get_message(timeout=1)  # the subscribe confirmation

    async def from_a_coroutine() -> None:
        publish_event(event_type="payment.failed", object_id=3, data={}, user_ids=[5])

    asyncio.run(from_a_coroutine())

    message = subscriber.get_message(timeout=2)
    subscriber.close()
    assert message is not None and message["type"] == "message"


def test_each_kind_of_ops_event_has_its_own_group():
    assert ops_group_for("payment.succeeded") == "ops.payments"
    assert ops_group_for("session.changed") == "ops.sessions"
    assert ops_group_for("allocation.scheduled") == "ops.allocations"


def test_an_ops_event_of_an_unlisted_kind_goes_to_superusers_only():
    assert ops_group_for("refund.issued") == "ops.other"


def test_an_event_published_to_the_ops_stream_goes_to_its_kinds_group_and_not_to_ops(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

    async def listen() -> tuple[dict, bool]:
        from channels.layers import get_channel_layer

        layer = get_channel_layer()
        payments, everyone = await layer.new_channel(), await layer.new_channel()
        await layer.group_add("ops.payments", payments)
        await layer.group_add(OPS_GROUP, everyone)
        await asyncio.to_thread(publish_event, event_type="payment.failed", object_id=1, data={}, groups=[OPS_GROUP])
        received = await layer.receive(payments)
        try:
            async with asyncio.timeout(0.2):
                await layer.receive(everyone)
        except TimeoutError:
            return received, True
        return received, False

    received, ops_itself_got_nothing = asyncio.run(listen())

    assert received["group"] == "ops.payments"
    assert ops_itself_got_nothing
