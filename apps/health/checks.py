"""Readiness checks: each bounded in time, each reporting a message safe to show.

`check_result` holds every check to HEALTH_CHECK_TIMEOUT whatever its dependency
does: a check past its bound is reported as timed out and abandoned, not waited
for. A sync check runs in this module's small executor, one run per check at a
time, so a frozen dependency ties up one thread per check, never more.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import inspect
import threading
import timeit
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import structlog
from django.conf import settings
from django.db import DatabaseError, connections
from health_check.base import HealthCheck, HealthCheckResult
from health_check.contrib.redis import Redis
from health_check.exceptions import HealthCheckException, ServiceUnavailable
from psycopg_pool import PoolTimeout
from redis.asyncio import Redis as AsyncRedis

logger = structlog.get_logger(__name__)

# More threads than there are sync checks, so a run never waits in the queue.
_EXECUTOR = ThreadPoolExecutor(max_workers=4, thread_name_prefix="readiness")
# Each sync check's latest run: while it is still going, requests wait on it instead of starting another.
_RUNS: dict[str, Future[None]] = {}
_RUNS_LOCK = threading.Lock()


def _check_timeout() -> datetime.timedelta:
    return datetime.timedelta(seconds=settings.HEALTH_CHECK_TIMEOUT)


@dataclasses.dataclass
class PostgresCheck(HealthCheck):
    """SELECT 1 on a connection borrowed from the pool, like any request would."""

    name = "postgres"
    alias: str = "default"
    timeout: datetime.timedelta = dataclasses.field(default_factory=_check_timeout, repr=False)

    def run(self) -> None:
        connection = connections[self.alias]
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                row = cursor.fetchone()
        except DatabaseError as exc:
            _discard(connection)
            if isinstance(exc.__cause__, PoolTimeout):
                raise ServiceUnavailable("connection pool exhausted") from exc
            raise ServiceUnavailable("query failed") from exc
        finally:
            connection.close()
        if row != (1,):
            raise ServiceUnavailable("unexpected result")


def _discard(connection: Any) -> None:
    """Close the raw connection of a failed check, so the pool drops it instead of lending it out again."""
    if connection.connection is not None:
        connection.connection.close()


def _redis_client() -> AsyncRedis:
    return AsyncRedis.from_url(
        settings.REDIS_URL,
        socket_timeout=settings.HEALTH_CHECK_TIMEOUT,
        socket_connect_timeout=settings.HEALTH_CHECK_TIMEOUT,
    )


@dataclasses.dataclass
class RedisCheck(Redis):
    """PING on a fresh connection with connect and socket timeouts."""

    name = "redis"
    client_factory: object = dataclasses.field(default=_redis_client, repr=False)
    timeout: datetime.timedelta = dataclasses.field(default_factory=_check_timeout, repr=False)

    def __repr__(self) -> str:
        return "RedisCheck()"


async def check_result(check: HealthCheck) -> HealthCheckResult:
    """Run `check` and report on it within its timeout, never later."""
    bound = check.timeout.total_seconds()
    started = timeit.default_timer()
    try:
        await _within(bound, _start(check))
    except HealthCheckException as exc:
        error: HealthCheckException | None = exc
    except TimeoutError:
        error = ServiceUnavailable(f"timed out after {bound:g} s")
    except Exception as exc:
        logger.exception("readiness_check_crashed", check=check.name, error_class=type(exc).__name__)
        error = HealthCheckException("unknown error")
    else:
        error = None
    if error is not None:
        logger.warning("readiness_check_failed", check=check.name, error=str(error))
    return HealthCheckResult(check=check, error=error, time_taken=timeit.default_timer() - started)


def _start(check: HealthCheck) -> asyncio.Future[None]:
    """An async check as a task; a sync check's run in _EXECUTOR, the one still going or a new one."""
    if inspect.iscoroutinefunction(check.run):
        return asyncio.ensure_future(check.run())
    with _RUNS_LOCK:
        run = _RUNS.get(check.name)
        if run is None or run.done():
            run = _RUNS[check.name] = _EXECUTOR.submit(check.run)
    return asyncio.wrap_future(run)


async def _within(bound: float, future: asyncio.Future[None]) -> None:
    """Wait at most `bound` seconds; past it, cancel and leave the work behind rather than wait for it to stop.

    Cancelling a thread's wrapper never stops the thread: it finishes (or stays stuck) on its own.
    """
    done, _ = await asyncio.wait({future}, timeout=bound)
    if not done or future.cancelled():
        future.cancel()
        raise TimeoutError
    future.result()
