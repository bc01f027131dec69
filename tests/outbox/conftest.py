from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest
from django.conf import settings

from lib.redis import get_client
from ops_console.celery import app
from tests.support.amqp import amqp_queue_messages
from tests.support.proxies import RedisProxy, redis_proxy
from tests.support.servers import silent_tcp_server
from tests.support.workers import isolated_broker_keys, reset_broker_pools


class BrokerQueues:
    """Reads the messages waiting on the broker's queues under one key prefix."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def messages(self, queue: str) -> list[dict]:
        if settings.CELERY_BROKER_KIND == "amqp":
            return amqp_queue_messages(queue)
        return [json.loads(raw) for raw in get_client("write").lrange(f"{self.prefix}{queue}", 0, -1)]

    def tasks(self, queue: str) -> list[str]:
        return [message["headers"]["task"] for message in self.messages(queue)]


@pytest.fixture
def broker() -> Iterator[BrokerQueues]:
    """The broker's queues under this test's own key prefix."""
    with isolated_broker_keys() as prefix:
        yield BrokerQueues(prefix)


@pytest.fixture
def stalled_broker(settings) -> Iterator[None]:
    """The broker accepts connections and never answers (a frozen Redis) until the test ends."""
    with silent_tcp_server() as port:
        original = app.conf.broker_write_url
        scheme = "amqp" if settings.CELERY_BROKER_KIND == "amqp" else "redis"
        app.conf.broker_write_url = f"{scheme}://127.0.0.1:{port}/0"
        reset_broker_pools()
        try:
            yield
        finally:
            app.conf.broker_write_url = original
            reset_broker_pools()


@pytest.fixture
def proxied_broker(broker) -> Iterator[tuple[BrokerQueues, RedisProxy]]:
    """The outbox publishes to the test Redis through a proxy the test can freeze (Redis broker only)."""
    with redis_proxy(os.environ["REDIS_URL"]) as proxy:
        original = app.conf.broker_write_url
        app.conf.broker_write_url = proxy.url
        reset_broker_pools()
        try:
            yield broker, proxy
        finally:
            app.conf.broker_write_url = original
            reset_broker_pools()
