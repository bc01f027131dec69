"""The broker seen from the code: its kind from the URL, bounds in its own words, delays it can carry."""

from __future__ import annotations

import datetime

import kombu
import pytest

from lib.broker import (
    RedisPublishTransport,
    bounded_transport_options,
    broker_kind,
    redis_publishing_connection,
    whole_second_delay,
)
from ops_console.queues import DEAD_QUEUE, WORKER_QUEUES, task_queues

NOW = datetime.datetime(2026, 1, 1, 12, 0, tzinfo=datetime.UTC)


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("redis://localhost:6379/0", "redis"),
        ("redis+socket:///tmp/r.sock", "redis"),
        ("amqp://guest:guest@127.0.0.1:5672/ops", "amqp"),
        ("amqps://user:pw@rabbit.example.com//", "amqp"),
    ],
)
def test_the_broker_kind_follows_the_url_scheme(url, kind):
    assert broker_kind(url) == kind


def test_a_broker_url_of_another_kind_is_refused():
    with pytest.raises(ValueError, match="scheme 'sqs'"):
        broker_kind("sqs://key:secret@")


def test_the_bounds_are_spelled_as_each_transport_reads_them():
    assert bounded_transport_options("redis", timeout=0.2, connect_timeout=0.1) == {
        "socket_timeout": 0.2,
        "socket_connect_timeout": 0.1,
    }
    assert bounded_transport_options("amqp", timeout=0.2, connect_timeout=0.1) == {
        "connect_timeout": 0.1,
        "read_timeout": 0.2,
        "write_timeout": 0.2,
    }


@pytest.mark.parametrize(
    ("countdown", "eta", "expected"),
    [
        (None, None, None),
        (0, None, None),
        (0.2, None, 1),
        (1.0, None, 1),
        (1.5, None, 2),
        (None, NOW + datetime.timedelta(seconds=0.3), 1),
        (None, NOW - datetime.timedelta(seconds=5), None),
    ],
)
def test_a_delay_is_carried_in_whole_seconds_never_sooner_than_asked(countdown, eta, expected):
    assert whole_second_delay(countdown, eta, now=NOW) == expected


def test_on_rabbitmq_every_worker_queue_is_a_durable_quorum_queue_with_the_delivery_limit_on_a_topic_exchange():
    queues = task_queues(WORKER_QUEUES, kind="amqp", delivery_limit=7)

    assert [q.name for q in queues] == list(WORKER_QUEUES)
    for queue in queues:
        assert queue.durable and queue.exchange.type == "topic" and queue.routing_key == queue.name
        assert queue.queue_arguments == {
            "x-queue-type": "quorum",
            "x-delivery-limit": 7,
            # Past the limit (or rejected without requeue) a message goes to the dead queue, kept until it is there.
            "x-dead-letter-exchange": DEAD_QUEUE,
            "x-dead-letter-routing-key": DEAD_QUEUE,
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        }


def test_on_redis_the_queues_are_celerys_defaults():
    assert task_queues(WORKER_QUEUES, kind="redis", delivery_limit=7) is None


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/2", "redis+socket:///tmp/r.sock?virtual_host=3"])
def test_a_redis_publishing_connection_keeps_its_address_and_options_in_every_pooled_connection(url):
    options = {"socket_timeout": 0.2, "global_keyprefix": "p:"}
    template = redis_publishing_connection(kombu.Connection(url, transport_options=options))

    with template.Pool(limit=1).acquire() as pooled:
        assert pooled.as_uri() == template.as_uri() == kombu.Connection(url).as_uri()
        assert pooled.transport_options == options
        assert pooled.get_transport_cls() is RedisPublishTransport


def test_a_rabbitmq_connection_is_left_as_it_is():
    connection = kombu.Connection("amqp://guest:guest@127.0.0.1:5672/ops")

    assert redis_publishing_connection(connection) is connection
