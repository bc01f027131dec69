"""publish_event never raises into its caller."""

from __future__ import annotations

import logging

from apps.core import metrics
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
