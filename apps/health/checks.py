"""Readiness checks: each bounded in time, each reporting a message safe to show."""

from __future__ import annotations

import dataclasses
import datetime

from django.conf import settings
from django.db import DatabaseError, connections
from health_check.base import HealthCheck
from health_check.contrib.redis import Redis
from health_check.exceptions import ServiceUnavailable
from psycopg_pool import PoolTimeout
from redis.asyncio import Redis as AsyncRedis


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
            with connection.temporary_connection() as cursor:
                cursor.execute("SELECT 1")
                row = cursor.fetchone()
        except DatabaseError as exc:
            if isinstance(exc.__cause__, PoolTimeout):
                raise ServiceUnavailable("connection pool exhausted") from exc
            raise ServiceUnavailable("query failed") from exc
        finally:
            connection.close()
        if row != (1,):
            raise ServiceUnavailable("unexpected result")


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
