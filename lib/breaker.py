"""Circuit breakers whose state every process shares through Redis.

pybreaker runs the state machine; its CircuitRedisStorage keeps the state under
`<HTTP_BREAKER_KEY_PREFIX>:<target>:…` (`ops:breaker:…` by default), so a breaker opened by one process is open in all of
them. While Redis cannot be reached, a breaker carries on with in-process state
that starts closed (calls go through, and it can still open locally) and asks
Redis again every STORAGE_RETRY_SECONDS. Each switch is logged and counted once.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar, cast

import pybreaker
import redis
import structlog
from django.conf import settings

from lib import metrics
from lib.redis import REDIS_ERRORS, get_client

STORAGE_RETRY_SECONDS = 5.0

logger = structlog.get_logger(__name__)
T = TypeVar("T")


def breaker_key_prefix(target: str) -> str:
    return f"{settings.HTTP_BREAKER_KEY_PREFIX}:{target}"


def circuit_breaker(*, storage: SharedBreakerStorage, fail_max: int, reset_timeout: float) -> pybreaker.CircuitBreaker:
    """A breaker for storage's target. Reads Redis once (bounded by REDIS_WRITE_TIMEOUT)."""
    return pybreaker.CircuitBreaker(
        fail_max=fail_max,
        reset_timeout=reset_timeout,
        state_storage=storage,
        listeners=[TransitionLogger()],
        name=storage.target,
        # The call that trips the breaker raises its own error; later calls get CircuitBreakerError.
        throw_new_error_on_trip=False,
    )


class TransitionLogger(pybreaker.CircuitBreakerListener):
    """Logs breaker_opened / breaker_closed / breaker_half_open, as every process notices them."""

    EVENTS = {
        pybreaker.STATE_OPEN: "breaker_opened",
        pybreaker.STATE_CLOSED: "breaker_closed",
        pybreaker.STATE_HALF_OPEN: "breaker_half_open",
    }

    def state_change(self, cb: pybreaker.CircuitBreaker, old_state: Any, new_state: Any) -> None:
        log = logger.warning if new_state.name == pybreaker.STATE_OPEN else logger.info
        log(self.EVENTS[new_state.name], target=cb.name, previous=getattr(old_state, "name", None))
        metrics.increment("breaker_transitions", target=cb.name, state=new_state.name)


class _WatchedClient:
    """Passes commands to a Redis client and remembers, per thread, whether one failed.

    CircuitRedisStorage catches RedisError itself (logging it and returning a
    default); this is how SharedBreakerStorage learns that Redis is out. It also
    decodes replies itself, so a str reply (decode_responses) is handed over as bytes.
    """

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._local = threading.local()

    @property
    def failed(self) -> bool:
        return getattr(self._local, "failed", False)

    def clear(self) -> None:
        self._local.failed = False

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        @functools.wraps(attribute)
        def command(*args: Any, **kwargs: Any) -> Any:
            try:
                result = attribute(*args, **kwargs)
            except REDIS_ERRORS:
                self._local.failed = True
                raise
            return result.encode() if isinstance(result, str) else result

        return command


class SharedBreakerStorage(pybreaker.CircuitBreakerStorage):
    """Breaker state in Redis, or in this process while Redis is unreachable."""

    def __init__(self, target: str, client: redis.Redis) -> None:
        super().__init__("redis")
        self.target = target
        self._client = client
        self._watched = _WatchedClient(self._client)
        self._shared: pybreaker.CircuitRedisStorage | None = None
        self._fallback: pybreaker.CircuitMemoryStorage | None = None
        self._retry_at = 0.0
        self._lock = threading.Lock()

    @classmethod
    def for_target(cls, target: str) -> SharedBreakerStorage:
        """Storage on the project's write-bounded Redis client (lib/redis.py)."""
        return cls(target, get_client("write"))

    @property
    def location(self) -> str:
        """Where the state lives now: "redis" (shared) or "memory" (this process only)."""
        return "memory" if self._fallback is not None else "redis"

    def _run(self, operation: Callable[[pybreaker.CircuitBreakerStorage], T]) -> T:
        fallback = self._fallback_in_use()
        if fallback is not None:
            return operation(fallback)
        self._watched.clear()
        try:
            result = operation(self._shared_storage())
        except REDIS_ERRORS:  # CircuitRedisStorage's initialisation does not guard its commands
            return operation(self._degrade())
        if self._watched.failed:
            return operation(self._degrade())
        return result

    def _shared_storage(self) -> pybreaker.CircuitRedisStorage:
        if self._shared is None:
            # _WatchedClient stands in for the Redis client it wraps: every attribute passes through.
            client = cast(redis.Redis, self._watched)
            self._shared = pybreaker.CircuitRedisStorage(
                pybreaker.STATE_CLOSED, client, namespace=breaker_key_prefix(self.target)
            )
        return self._shared

    def _fallback_in_use(self) -> pybreaker.CircuitMemoryStorage | None:
        """The in-process storage while Redis is out; None once Redis answers again."""
        fallback = self._fallback
        if fallback is None:
            return None
        if time.monotonic() < self._retry_at or not self._redis_answers():
            return fallback
        self._restore()
        return None

    def _redis_answers(self) -> bool:
        try:
            self._client.ping()
        except REDIS_ERRORS:
            self._retry_at = time.monotonic() + STORAGE_RETRY_SECONDS
            return False
        return True

    def _degrade(self) -> pybreaker.CircuitMemoryStorage:
        with self._lock:
            self._retry_at = time.monotonic() + STORAGE_RETRY_SECONDS
            if self._fallback is None:
                self._fallback = pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED)
                logger.warning("breaker_storage_degraded", target=self.target, storage="memory")
                metrics.increment("breaker_storage_fallbacks", target=self.target)
            return self._fallback

    def _restore(self) -> None:
        with self._lock:
            if self._fallback is not None:
                self._fallback = None
                logger.info("breaker_storage_restored", target=self.target, storage="redis")
                metrics.increment("breaker_storage_restores", target=self.target)

    # pybreaker's storage interface, each delegated to whichever storage is in use.

    @property
    def state(self) -> str:
        return self._run(lambda storage: storage.state)

    @state.setter
    def state(self, state: str) -> None:
        self._run(lambda storage: setattr(storage, "state", state))

    def increment_counter(self) -> None:
        self._run(lambda storage: storage.increment_counter())

    def reset_counter(self) -> None:
        self._run(lambda storage: storage.reset_counter())

    def increment_success_counter(self) -> None:
        self._run(lambda storage: storage.increment_success_counter())

    def reset_success_counter(self) -> None:
        self._run(lambda storage: storage.reset_success_counter())

    @property
    def counter(self) -> int:
        return self._run(lambda storage: storage.counter)

    @property
    def success_counter(self) -> int:
        return self._run(lambda storage: storage.success_counter)

    @property
    def opened_at(self) -> datetime | None:
        return self._run(lambda storage: storage.opened_at)

    @opened_at.setter
    def opened_at(self, now: datetime) -> None:
        self._run(lambda storage: setattr(storage, "opened_at", now))
