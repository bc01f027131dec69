"""publish_event never raises into its caller."""

from __future__ import annotations

import asyncio
import logging

from apps.core import metrics
from apps.core.redis import get_client
from apps.realtime.services import publish_event
from tests.logs import logged_events


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
