"""The project's direct Redis use, always bounded.

Three clients, one per purpose, each with its own connect/socket timeout:
reads (fail open), writes (fail silently) and the rate limiter. Nothing in the
codebase talks to Redis except through here, the cache (django-redis) and the
Celery/Channels transports, which carry their own timeouts
(tests/lib/test_redis.py fails on any other client).

Use `redis_read` and `redis_write` rather than a raw client: they turn a slow
or dead Redis into a default value (or a dropped write), a warning and a
`redis_failures` count. Clients built by `from_url` do not retry, so one
command costs at most its purpose's timeout.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Callable
from functools import cache
from typing import Literal, TypeVar

import redis
import redis.asyncio
import structlog
from django.conf import settings

from lib import metrics

logger = structlog.get_logger(__name__)

Purpose = Literal["read", "write", "limiter"]
T = TypeVar("T")
# What a slow, dead or refusing Redis raises; anything else is a bug and propagates.
REDIS_ERRORS = (redis.RedisError, OSError)


def _timeout(purpose: Purpose) -> float:
    return {
        "read": settings.REDIS_READ_TIMEOUT,
        "write": settings.REDIS_WRITE_TIMEOUT,
        "limiter": settings.RATE_LIMIT_REDIS_TIMEOUT,
    }[purpose]


@cache
def _client(url: str, purpose: Purpose) -> redis.Redis:
    timeout = _timeout(purpose)
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=min(timeout, settings.REDIS_CONNECT_TIMEOUT),
        health_check_interval=30,
        retry_on_timeout=False,
    )


# A fault drill (apps/drills) makes Redis unreachable for this process until this monotonic time.
UNREACHABLE_URL = "redis://127.0.0.1:1/0"  # port 1: refused at once
_unreachable_until = 0.0


def redis_cut_off(*, seconds: float) -> None:
    """Make Redis unreachable for this process's clients (get_client) for `seconds`; reverts by itself."""
    global _unreachable_until
    _unreachable_until = time.monotonic() + seconds


def redis_cut_off_remaining() -> float:
    return max(0.0, _unreachable_until - time.monotonic())


def _url() -> str:
    return UNREACHABLE_URL if _unreachable_until and time.monotonic() < _unreachable_until else settings.REDIS_URL


def get_client(purpose: Purpose) -> redis.Redis:
    """A client bounded for `purpose`; callers must still handle redis.RedisError."""
    return _client(_url(), purpose)


def get_async_client(purpose: Purpose) -> redis.asyncio.Redis:
    """An asyncio client bounded like get_client(purpose), one per event loop (Channels consumers)."""
    loop = asyncio.get_running_loop()
    url = _url()
    key = (url, purpose)
    clients = _async_clients.setdefault(loop, {})
    if key not in clients:
        timeout = _timeout(purpose)
        clients[key] = redis.asyncio.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=min(timeout, settings.REDIS_CONNECT_TIMEOUT),
            retry_on_timeout=False,
        )
    return clients[key]


_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, Purpose], redis.asyncio.Redis]] = (
    weakref.WeakKeyDictionary()
)


def redis_read(operation: Callable[[redis.Redis], T], *, default: T, what: str) -> T:
    """`operation` on the read client, or `default` when Redis fails (fail open).

    Talks to Redis: each command is bounded by REDIS_READ_TIMEOUT. `what` names
    the read in the warning, e.g. "dashboard_counts".
    """
    try:
        return operation(get_client("read"))
    except REDIS_ERRORS as exc:
        _record_failure("redis_read_failed", purpose="read", what=what, exc=exc)
        return default


def redis_write(operation: Callable[[redis.Redis], object], *, what: str) -> bool:
    """`operation` on the write client; False when Redis fails (the write is dropped).

    Talks to Redis: each command is bounded by REDIS_WRITE_TIMEOUT.
    """
    try:
        operation(get_client("write"))
    except REDIS_ERRORS as exc:
        _record_failure("redis_write_failed", purpose="write", what=what, exc=exc)
        return False
    return True


def record_failure(event: str, *, purpose: Purpose, what: str, exc: BaseException) -> None:
    """Log and count a failed Redis call made outside redis_read/redis_write (async callers)."""
    _record_failure(event, purpose=purpose, what=what, exc=exc)


def _record_failure(event: str, *, purpose: Purpose, what: str, exc: BaseException) -> None:
    logger.warning(event, what=what, error_class=type(exc).__name__)
    metrics.increment("redis_failures", purpose=purpose)
