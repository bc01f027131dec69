"""What each task costs inside a real worker: statements, commits, connections, Redis round trips, publishes, ms.

Loaded by bench/pipeline.py's profiling worker only (`--include bench.pipeline_profile` with
BENCH_PROFILE_DIR set): each pool process wraps Celery's task tracer, so a task is timed from
the moment its pool process takes the message to the moment it hands the result back (every
signal handler, Celery's Django fixup included): ms of wall time and cpu_ms of the pool process's
CPU time (all its threads; on a shared machine wall time also holds the waits for a CPU). It
counts while the task runs:

- statements: SQL statements sent (an execute wrapper on the task thread's connection);
- commits: transactions committed (atomic blocks; statements outside one commit on their own);
- connects: new PostgreSQL connections (psycopg connects, pool threads included);
- checkouts: connections taken from the process's psycopg pool; checks: the pool's health
  checks of a connection it hands out (one empty query each, DB_POOL_CHECK);
- pool closes: psycopg pools closed, with the ms spent closing (joining the pool's threads);
- redis: Redis round trips (each packed send of redis-py, sync and asyncio: a pipeline is one);
- publishes: tasks sent to the broker; group sends: channel-layer group_send calls.

Each pool process writes its totals per task name to BENCH_PROFILE_DIR/<pid>.json after every
task (the profiling run only; the throughput runs load none of this). With BENCH_CPROFILE set,
each task also runs under cProfile (CPU time), dumped to BENCH_PROFILE_DIR/<pid>.prof.
"""

from __future__ import annotations

import cProfile
import json
import os
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from celery import signals

COUNTERS = (
    "tasks", "ms", "cpu_ms", "statements", "commits", "connects", "connects_ms", "checkouts", "checks", "pool_closes", "pool_closes_ms",
    "redis", "publishes", "group_sends",
)  # fmt: skip

_current: dict[str, float] = defaultdict(float)
_totals: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
_profile: cProfile.Profile | None = None
# The statements of the first task of each name, in order (BENCH_PROFILE_SQL set).
_samples: dict[str, list[str]] = {}
_statements: list[str] = []


def _count(name: str, amount: float = 1) -> None:
    _current[name] += amount


def _timed(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            _count(name)
            _count(f"{name}_ms", (time.perf_counter() - started) * 1000)

    return wrapper


def _counted(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _count(name)
        return original(*args, **kwargs)

    return wrapper


def _counted_async(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        _count(name)
        return await original(*args, **kwargs)

    return wrapper


def _statement(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
    _count("statements")
    _statements.append(sql[:160])
    return execute(sql, params, many, context)


def _traced(original: Callable[..., Any], name_of: Callable[[tuple[Any, ...]], str]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from django.db import connection

        _current.clear()
        _statements.clear()
        started, cpu = time.perf_counter(), time.process_time()
        try:
            with connection.execute_wrapper(_statement):
                if _profile is not None:
                    return _profile.runcall(original, *args, **kwargs)
                return original(*args, **kwargs)
        finally:
            _current["ms"] = (time.perf_counter() - started) * 1000
            _current["cpu_ms"] = (time.process_time() - cpu) * 1000
            _current["tasks"] = 1
            name = name_of(args)
            _samples.setdefault(name, list(_statements))
            totals = _totals[name]
            for key, value in _current.items():
                totals[key] += value
            _write()

    return wrapper


def _write() -> None:
    directory = Path(os.environ["BENCH_PROFILE_DIR"])
    (directory / f"{os.getpid()}.json").write_text(json.dumps(_totals))
    (directory / f"{os.getpid()}.sql.json").write_text(json.dumps(_samples))
    if _profile is not None and int(sum(t["tasks"] for t in _totals.values())) % 50 == 0:
        _profile.dump_stats(directory / f"{os.getpid()}.prof")


@signals.worker_process_init.connect
def _install(**_: Any) -> None:
    """In each pool process, after fork: wrap the tracer and the calls counted."""
    global _profile
    import celery.app.trace
    import channels_redis.core
    import channels_redis.pubsub
    import psycopg
    import psycopg_pool
    import redis.asyncio.connection
    import redis.connection
    from django.db.backends.base.base import BaseDatabaseWrapper

    celery.app.trace.fast_trace_task = _traced(celery.app.trace.fast_trace_task, lambda args: args[0])
    celery.app.trace.trace_task_ret = _traced(celery.app.trace.trace_task_ret, lambda args: args[0])
    BaseDatabaseWrapper.commit = _counted("commits", BaseDatabaseWrapper.commit)  # type: ignore[method-assign]
    psycopg.Connection.connect = classmethod(_timed("connects", psycopg.Connection.connect.__func__))  # type: ignore[assignment, attr-defined]
    # Django opens the pool before every checkout (at once when it is open): so this counts checkouts.
    psycopg_pool.ConnectionPool.open = _counted("checkouts", psycopg_pool.ConnectionPool.open)
    psycopg_pool.ConnectionPool.check_connection = staticmethod(  # type: ignore[method-assign]
        _counted("checks", psycopg_pool.ConnectionPool.check_connection)
    )  # type: ignore[method-assign]
    psycopg_pool.ConnectionPool.close = _timed("pool_closes", psycopg_pool.ConnectionPool.close)  # type: ignore[method-assign]
    redis.connection.AbstractConnection.send_packed_command = _counted(  # type: ignore[method-assign]
        "redis", redis.connection.AbstractConnection.send_packed_command
    )
    redis.asyncio.connection.AbstractConnection.send_packed_command = _counted_async(  # type: ignore[method-assign]
        "redis", redis.asyncio.connection.AbstractConnection.send_packed_command
    )
    for layer in (channels_redis.core.RedisChannelLayer, channels_redis.pubsub.RedisPubSubLoopLayer):
        layer.group_send = _counted_async("group_sends", layer.group_send)  # type: ignore[method-assign]
    signals.after_task_publish.connect(lambda **_: _count("publishes"), weak=False)
    if os.environ.get("BENCH_CPROFILE"):
        _profile = cProfile.Profile(time.process_time)
