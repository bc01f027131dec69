"""The Celery broker as the rest of the code sees it: Redis or RabbitMQ, chosen by CELERY_BROKER_URL's scheme.

Kombu hides most differences; the ones we meet are here:

- bounded connections: Redis takes `socket_timeout`/`socket_connect_timeout`,
  py-amqp takes `connect_timeout`/`read_timeout`/`write_timeout` and ignores
  the others, so a bound written for one broker is silently no bound on the other;
- delays: on RabbitMQ with quorum queues a countdown travels through Celery's
  native delayed delivery (`celery_delayed_*` queues, whole seconds) instead
  of being held unacknowledged by a worker; `OpsCelery` makes that safe for
  the countdowns we use (below);
- queue depth: a Redis queue is a list (LLEN), a RabbitMQ queue answers a
  passive `queue.declare` with its message count. RabbitMQ cannot tell the
  age of a queue's oldest message without taking it, so that reading is
  unknown there (None), never guessed;
- publishing cost: kombu's Redis channel builds a redis-py client for every
  message it sends; the outbox's connections (`redis_publishing_connection`)
  reuse one per channel.
"""

from __future__ import annotations

import datetime
import math
import threading
from collections.abc import Iterable
from typing import Any, Literal
from urllib.parse import urlsplit

import amqp.exceptions
import kombu
import kombu.connection
import kombu.transport.redis
from celery import Celery
from celery.utils.quorum_queues import detect_quorum_queues
from kombu.exceptions import KombuError
from kombu.transport.native_delayed_delivery import (
    bind_queue_to_native_delayed_delivery_exchange,
    declare_native_delayed_delivery_exchanges_and_queues,
)
from kombu.utils.json import dumps

BrokerKind = Literal["redis", "amqp"]

AMQP_SCHEMES = ("amqp", "amqps", "pyamqp")
REDIS_SCHEMES = ("redis", "rediss", "redis+socket")
# What a slow, dead or refusing broker raises through kombu, whichever it is.
BROKER_ERRORS: tuple[type[Exception], ...] = (KombuError, amqp.exceptions.AMQPError, OSError)


def broker_kind(url: str) -> BrokerKind:
    """ "amqp" for amqp://, amqps:// and pyamqp:// URLs, "redis" for Redis ones; ValueError for anything else."""
    scheme = urlsplit(url).scheme
    if scheme in AMQP_SCHEMES:
        return "amqp"
    if scheme in REDIS_SCHEMES:
        return "redis"
    raise ValueError(f"must be a redis://, rediss://, redis+socket://, amqp:// or amqps:// URL, got scheme {scheme!r}")


def redis_restore_mutex_expire(visibility_timeout: int) -> int:
    """Seconds kombu's restore lock (`unacked_mutex`) outlives a worker killed while holding it: half the visibility
    timeout, at most kombu's 300.

    Workers restore the unacked messages of dead workers under that lock. A worker SIGKILLed mid-sweep leaves it
    held until it expires, and meanwhile nobody restores anything: with kombu's 300 s a killed worker's messages
    came back 5 minutes late where the visibility timeout promised seconds. A lock that expires during a very
    long sweep lets a second sweep restore a message twice: a duplicate delivery, which every task survives.
    """
    return max(1, min(300, visibility_timeout // 2))


def bounded_transport_options(kind: BrokerKind, *, timeout: float, connect_timeout: float) -> dict[str, Any]:
    """Transport options that bound every broker operation: connect, then each read and write."""
    if kind == "amqp":
        return {"connect_timeout": connect_timeout, "read_timeout": timeout, "write_timeout": timeout}
    return {"socket_timeout": timeout, "socket_connect_timeout": connect_timeout}


class RedisPublishChannel(kombu.transport.redis.Channel):
    """kombu's Redis channel, sending each message through one redis-py client instead of a new one.

    kombu builds a client per LPUSH, and redis-py's constructor fills a table of ~170 response callbacks each
    time: ~12 % of an outbox publish. A client is thread-safe and takes a connection from the channel's pool
    per command, so one per pool does the same: same pool, key prefix and socket timeouts. The channel
    renews its pool after a fork or when it closes, and the client with it. Only the plain LPUSH changes;
    batches, expiring queues, fanout and everything a consumer does stay kombu's.
    """

    _publish_client: Any = None
    # kombu's, set in its __init__ and defined untyped: mypy does not see them.
    _expires: dict[str, int]
    _q_for_pri: Any
    _create_client: Any

    def _put(self, queue: str, message: Any, **kwargs: Any) -> None:
        if kwargs.get("_publish_batch") is not None or (self._expires and queue in self._expires):
            return super()._put(queue, message, **kwargs)
        key = self._q_for_pri(queue, self._get_message_priority(message, reverse=False))
        self._client_for_publish().lpush(key, dumps(message))
        return None

    def _client_for_publish(self) -> Any:
        pool = self.pool
        client = self._publish_client
        if client is None or client.connection_pool is not pool:
            client = self._publish_client = self._create_client()
        return client


class RedisPublishTransport(kombu.transport.redis.Transport):
    Channel = RedisPublishChannel


class _PublishesThroughOneClient:
    """Picks RedisPublishTransport where kombu would pick its plain Redis transport.

    A method, not the `transport` argument: kombu resolves `redis+socket://` to "redis" from the URL every
    time it builds a connection, whatever class it was given.
    """

    def get_transport_cls(self) -> Any:
        transport_cls = super().get_transport_cls()  # type: ignore[misc]
        return RedisPublishTransport if transport_cls is kombu.transport.redis.Transport else transport_cls


class RedisPublishConnection(_PublishesThroughOneClient, kombu.Connection):
    """A kombu connection (template) whose channels, and those of the pooled connections made from it, are
    RedisPublishChannels."""

    def Pool(self, limit: int | None = None, **kwargs: Any) -> kombu.connection.ConnectionPool:
        return _RedisPublishConnectionPool(self, limit=limit, **kwargs)

    def __eqhash__(self) -> Any:
        # kombu pools connections per equal connection: never share a pool with a plain kombu connection.
        return (RedisPublishConnection, super().__eqhash__())


class _PooledRedisPublishConnection(_PublishesThroughOneClient, kombu.connection.PooledConnection):
    pass


class _RedisPublishConnectionPool(kombu.connection.ConnectionPool):
    def new(self) -> Any:
        return _PooledRedisPublishConnection(self, **dict(self.connection._info(resolve=False)))  # as kombu's


def redis_publishing_connection(connection: kombu.Connection) -> kombu.Connection:
    """`connection` (a template: not connected) publishing through RedisPublishChannel when its transport is
    kombu's plain Redis one (redis://, rediss://, redis+socket://); any other (RabbitMQ, Sentinel) as it is.

    Only for publishing: a worker consumes through Celery's own connections, untouched.
    """
    if connection.get_transport_cls() is not kombu.transport.redis.Transport:
        return connection
    return RedisPublishConnection(**dict(connection._info(resolve=False)))  # what kombu's clone() passes


def amqp_queue_depths(connection: Any, queues: Iterable[str]) -> dict[str, int]:
    """Messages ready in each queue, by a passive declare each (nothing is created or taken).

    `connection` is a kombu Connection to RabbitMQ, already bounded by its
    transport options. A queue the broker does not have (no worker declared it
    yet) holds nothing: 0. RabbitMQ closes the channel on that answer, so the
    next queue gets a new one.
    """
    depths: dict[str, int] = {}
    channel = connection.channel()
    try:
        for queue in queues:
            try:
                depths[queue] = channel.queue_declare(queue=queue, passive=True).message_count
            except amqp.exceptions.NotFound:
                depths[queue] = 0
                channel = connection.channel()
    finally:
        channel.close()
    return depths


def whole_second_delay(countdown: float | None, eta: datetime.datetime | None, *, now: datetime.datetime) -> int | None:
    """The delay as native delayed delivery can carry it: whole seconds, rounded up (never sooner than asked), None
    for none. Celery truncates a countdown to whole seconds and refuses one under a second outright."""
    if eta is not None:
        countdown = (eta - now).total_seconds()
    if countdown is None or countdown <= 0:
        return None
    return math.ceil(countdown)


class OpsCelery(Celery):
    """Celery with the two fixes delayed tasks need on RabbitMQ quorum queues (Celery 5.7 as shipped):

    1. A countdown under a second (our retry backoff in tests, staggered dead-letter replays) makes
       `send_task` raise ValueError; every delay is sent as whole seconds, rounded up.
    2. Only a worker declares the delayed-delivery exchanges and binds the task queues to them: a
       process that publishes a countdown first gets NOT_FOUND, or its message is dropped at the
       end of its delay. The first delayed publish of each process declares and binds them
       (idempotent; 28 quorum queues, once).
    On Redis nothing changes.
    """

    _delayed_delivery_ready: set[str]
    _delayed_delivery_lock = threading.Lock()

    # Narrower than Celery's signature (the override ignore): Celery passes all after `kwargs` by keyword.
    def send_task(self, name: str, args: Any = None, kwargs: Any = None, countdown: float | None = None,  # type: ignore[override]
                  eta: datetime.datetime | None = None, **options: Any) -> Any:  # fmt: skip
        if (countdown or eta) and self._native_delayed_delivery():
            countdown, eta = whole_second_delay(countdown, eta, now=self.now()), None
            if countdown:
                self._declare_delayed_delivery()
        return super().send_task(name, args, kwargs, countdown=countdown, eta=eta, **options)

    def _native_delayed_delivery(self) -> bool:
        scheme = urlsplit(self.conf.broker_write_url or self.conf.broker_url or "").scheme
        return scheme in AMQP_SCHEMES and detect_quorum_queues(self, "amqp")[0]

    def _declare_delayed_delivery(self) -> None:
        """Declare the delayed-delivery topology and bind our queues to it, once per process and broker URL."""
        url = self.conf.broker_write_url or self.conf.broker_url
        ready = self.__dict__.setdefault("_delayed_delivery_ready", set())
        if url in ready:
            return
        with self._delayed_delivery_lock, self.connection_for_write() as connection:
            declare_native_delayed_delivery_exchanges_and_queues(
                connection, self.conf.broker_native_delayed_delivery_queue_type
            )
            for queue in self.amqp.queues.values():
                queue.bind(connection.default_channel).declare()
                bind_queue_to_native_delayed_delivery_exchange(connection, queue)
            ready.add(url)
