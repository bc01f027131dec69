"""This process's snapshot: who it is and its numbers, as the reporter publishes them every TELEMETRY_INTERVAL.

Counters and histograms are totals since the process started (Prometheus reads
those); `recent` numbers are what changed over the last TELEMETRY_WINDOW
seconds, kept by `Window`, so rates and recent percentiles need no second read.
Nothing here talks to Redis or PostgreSQL: the pool's stats are in memory.
"""

from __future__ import annotations

import datetime
import os
import socket
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connections

from apps.telemetry import celery_state
from lib import metrics
from lib.postgresql.base import POOL_WAIT_HISTOGRAM

STATUS_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")
TASK_STATES = ("succeeded", "failed", "retried")
# Outbound outcomes that count as errors on the provider tile.
OUTBOUND_ERRORS = ("server_error", "timeout", "unavailable", "error")

Reading = dict[str, float | list[float]]
# Realtime counters every process reports (workers publish events too), by the name the snapshot uses.
REALTIME_COUNTERS = {
    "published": "ws_events_published",
    "publish_failed": "ws_publish_failed",
    "delivered": "ws_messages_sent",
    "dropped": "ws_messages_dropped",
}


@dataclass(frozen=True)
class Identity:
    kind: str
    host: str
    pid: int
    version: str
    started_at: str
    # The Celery worker's main process for its pool children (host:pid); the process itself otherwise.
    group: str

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.host}:{self.pid}"


def identity_here(*, kind: str | None = None, group_pid: int | None = None) -> Identity:
    host, pid = socket.gethostname(), os.getpid()
    return Identity(
        kind=kind or settings.PROCESS_KIND,
        host=host,
        pid=pid,
        version=settings.APP_VERSION,
        started_at=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        group=f"{host}:{group_pid or pid}",
    )


def pool_stats() -> dict[str, float] | None:
    """psycopg_pool's get_stats() of this process's default pool, or None when it has none yet.

    Reads Django's pool registry instead of `connections["default"].pool`, which
    would create (and later open) a pool in a process that never queries.
    """
    wrapper = connections["default"]
    pool = type(wrapper)._connection_pools.get(wrapper.alias)  # type: ignore[attr-defined]  # the postgresql backend's
    if pool is None:
        return None
    return {k: float(v) for k, v in pool.get_stats().items()}


def reading_now() -> Reading:
    """Every cumulative number this process reports, flat ("http.5xx", "task.failed.<name>", ...)."""
    reading: Reading = {}
    for labels, count in metrics.counter_items("http_requests"):
        reading[f"http.{dict(labels)['status']}"] = float(count)
    for counts in metrics.histograms("http_request_ms").values():
        reading["http.latency"] = counts
    for state in TASK_STATES:
        for labels, count in metrics.counter_items(f"tasks_{state}"):
            reading[f"task.{state}.{dict(labels)['task']}"] = float(count)
    for labels, counts in metrics.histograms("task_runtime_ms").items():
        reading[f"task.runtime.{dict(labels)['task']}"] = counts
    for labels, count in metrics.counter_items("http_calls"):
        named = dict(labels)
        reading[f"out.calls.{named['target']}.{named['outcome']}"] = float(count)
    for labels, count in metrics.counter_items("tasks_published"):
        reading[f"published.{dict(labels)['queue']}"] = float(count)
    for labels, counts in metrics.histograms("http_call_ms").items():
        reading[f"out.latency.{dict(labels)['target']}"] = counts
    for name, counter in REALTIME_COUNTERS.items():
        reading[f"realtime.{name}"] = float(sum(n for _, n in metrics.counter_items(counter)))
    stats = pool_stats()
    if stats is not None:
        reading["pool.timeouts"] = stats.get("requests_errors", 0.0)
        reading["pool.wait_ms"] = stats.get("requests_wait_ms", 0.0)
        reading["pool.requests"] = stats.get("requests_num", 0.0)
    for labels, counts in metrics.histograms(POOL_WAIT_HISTOGRAM).items():
        if dict(labels).get("alias") == "default":
            reading["pool.wait"] = counts
    return reading


def reading_difference(later: Reading, earlier: Reading) -> Reading:
    difference: Reading = {}
    for name, value in later.items():
        before = earlier.get(name)
        if isinstance(value, list):
            difference[name] = metrics.histogram_difference(value, before if isinstance(before, list) else None)
        else:
            difference[name] = max(0.0, value - (before if isinstance(before, float) else 0.0))
    return difference


@dataclass
class Window:
    """Readings of the last TELEMETRY_WINDOW seconds, so a snapshot can say what changed lately."""

    seconds: float
    readings: deque[tuple[float, Reading]] = field(default_factory=deque)

    def __post_init__(self) -> None:
        self.readings.append((time.monotonic(), {}))  # the process starts from zero

    def recent(self, now: float, reading: Reading) -> tuple[Reading, float]:
        """What changed since the oldest reading inside the window, and over how many seconds."""
        while len(self.readings) > 1 and self.readings[1][0] <= now - self.seconds:
            self.readings.popleft()
        since, earlier = self.readings[0]
        self.readings.append((now, reading))
        return reading_difference(reading, earlier), max(now - since, 1e-6)


def snapshot_build(*, identity: Identity, window: Window) -> dict[str, Any]:
    """The JSON-ready snapshot of this process now. Memory only: no I/O."""
    now = time.monotonic()
    reading = reading_now()
    recent, elapsed = window.recent(now, reading)
    return {
        "id": identity.id,
        "kind": identity.kind,
        "host": identity.host,
        "pid": identity.pid,
        "group": identity.group,
        "version": identity.version,
        "started_at": identity.started_at,
        "reported_at": time.time(),
        "interval_s": settings.TELEMETRY_INTERVAL,
        "window_s": round(elapsed, 3),
        "pool": _pool(reading, recent),
        "http": _http(reading, recent, elapsed) if identity.kind == "web" else None,
        "tasks": _tasks(reading, recent, elapsed) if identity.kind == "worker" else None,
        "ws": _websockets() if identity.kind == "web" else None,
        "realtime": _realtime(recent, elapsed),
        "outbound": _outbound(reading, recent),
        "breaker_transitions": _labelled("breaker_transitions", "target", "state"),
        "redis_failures": {dict(labels)["purpose"]: n for labels, n in metrics.counter_items("redis_failures")},
        "rate_limiter": {
            "fail_open": metrics.counter_value("rate_limit_fail_open"),
            "rejections": sum(n for _, n in metrics.counter_items("rate_limit_rejections")),
        },
        # Tasks this process published, per queue: totals and over the window (the workers page's enqueue rate).
        "published": {
            "total": {
                n.removeprefix("published."): int(_number(reading, n)) for n in reading if n.startswith("published.")
            },
            "recent": {
                n.removeprefix("published."): int(_number(recent, n)) for n in recent if n.startswith("published.")
            },
        },
        "worker": celery_state.worker_state() if identity.kind == "worker" else None,
        "beat": celery_state.beat_state() if identity.kind == "beat" else None,
    }


def _pool(reading: Reading, recent: Reading) -> dict[str, Any] | None:
    stats = pool_stats()
    if stats is None:
        return None
    size, available = stats.get("pool_size", 0.0), stats.get("pool_available", 0.0)
    return {
        "size": int(size),
        "min": int(stats.get("pool_min", 0)),
        "max": int(stats.get("pool_max", 0)),
        "in_use": int(max(0.0, size - available)),
        "idle": int(available),
        "waiting": int(stats.get("requests_waiting", 0)),
        # Over the window: ms requests spent waiting for a connection, and requests that gave up.
        "wait_ms": round(_number(recent, "pool.wait_ms"), 1),
        "timeouts": int(_number(recent, "pool.timeouts")),
        "timeouts_total": int(stats.get("requests_errors", 0)),
        "wait_ms_total": stats.get("requests_wait_ms", 0.0),
        "requests_total": int(stats.get("requests_num", 0)),
        # Over the window: connection requests served (the database page's mean wait per request).
        "requests": int(_number(recent, "pool.requests")),
        "connections_lost": int(stats.get("connections_lost", 0)),
        # Each checkout's wait (lib/postgresql/base.py), bucketed like http.latency: since start, and over the window.
        "wait_histogram": _histogram(reading, "pool.wait"),
        "wait_histogram_recent": _histogram(recent, "pool.wait"),
    }


def _http(reading: Reading, recent: Reading, elapsed: float) -> dict[str, Any]:
    recent_counts = {c: int(_number(recent, f"http.{c}")) for c in STATUS_CLASSES}
    return {
        "requests": {c: int(_number(reading, f"http.{c}")) for c in STATUS_CLASSES},
        "recent": recent_counts,
        "rps": round(sum(recent_counts.values()) / elapsed, 3),
        "latency": _histogram(reading, "http.latency"),
        "latency_recent": _histogram(recent, "http.latency"),
    }


def _tasks(reading: Reading, recent: Reading, elapsed: float) -> dict[str, Any]:
    by_name: dict[str, dict[str, Any]] = {}
    for name, value in reading.items():
        if not name.startswith("task."):
            continue
        _, state, task = name.split(".", 2)
        entry = by_name.setdefault(task, {s: 0 for s in TASK_STATES})
        entry[state] = value if isinstance(value, list) else int(value)
    totals = {s: int(sum(_number(recent, n) for n in recent if n.startswith(f"task.{s}."))) for s in TASK_STATES}
    recent_by_name: dict[str, dict[str, int]] = {}
    for name in recent:
        if name.startswith("task.") and not name.startswith("task.runtime."):
            _, state, task = name.split(".", 2)
            recent_by_name.setdefault(task, {s: 0 for s in TASK_STATES})[state] = int(_number(recent, name))
    return {
        "by_name": by_name,
        "recent_by_name": recent_by_name,
        "recent": totals,
        "per_s": round((totals["succeeded"] + totals["failed"]) / elapsed, 3),
    }


def _websockets() -> dict[str, Any]:
    from apps.realtime.state import STATE

    return {
        "connections": len(STATE.connections),
        "cap": settings.WS_MAX_CONNECTIONS_PER_INSTANCE,
        "refused": sum(n for _, n in metrics.counter_items("ws_refused")),
        "dropped": metrics.counter_value("ws_slow_clients_dropped"),
        "draining": STATE.draining,
        # For the realtime page: which tracking instance this is, and why handshakes were refused.
        "instance_id": STATE.instance_id,
        "per_user_cap": settings.WS_MAX_CONNECTIONS_PER_USER,
        "refused_by_reason": {dict(labels)["reason"]: n for labels, n in metrics.counter_items("ws_refused")},
        "dropped_by_reason": {dict(labels)["reason"]: n for labels, n in metrics.counter_items("ws_messages_dropped")},
    }


def _realtime(recent: Reading, elapsed: float) -> dict[str, Any]:
    """Events published and frames delivered / dropped: totals since start, and per second over the window."""
    return {
        "totals": {name: int(metrics_total(counter)) for name, counter in REALTIME_COUNTERS.items()},
        "per_s": {name: round(_number(recent, f"realtime.{name}") / elapsed, 3) for name in REALTIME_COUNTERS},
    }


def metrics_total(counter: str) -> int:
    return sum(n for _, n in metrics.counter_items(counter))


def _outbound(reading: Reading, recent: Reading) -> dict[str, Any]:
    last = {dict(labels)["target"]: value for labels, value in metrics.gauges("http_call_last_outcome").items()}
    targets = {name.split(".")[2] for name in reading if name.startswith("out.")} | set(last)
    outbound = {}
    for target in sorted(targets):
        prefix = f"out.calls.{target}."
        calls = {name.removeprefix(prefix): int(_number(reading, name)) for name in reading if name.startswith(prefix)}
        recent_calls = {name.removeprefix(prefix): _number(recent, name) for name in recent if name.startswith(prefix)}
        outcome, at = last.get(target, (None, None))
        outbound[target] = {
            "calls": calls,
            "recent_calls": int(sum(recent_calls.values())),
            "recent_errors": int(sum(v for k, v in recent_calls.items() if k in OUTBOUND_ERRORS)),
            "latency": _histogram(reading, f"out.latency.{target}"),
            "latency_recent": _histogram(recent, f"out.latency.{target}"),
            "last_outcome": outcome,
            "last_at": at,
        }
    return outbound


def _labelled(name: str, outer: str, inner: str) -> dict[str, dict[str, int]]:
    nested: dict[str, dict[str, int]] = {}
    for labels, count in metrics.counter_items(name):
        named = dict(labels)
        nested.setdefault(named[outer], {})[named[inner]] = count
    return nested


def _number(reading: Reading, name: str) -> float:
    value = reading.get(name, 0.0)
    return value if isinstance(value, float) else 0.0


def _histogram(reading: Reading, name: str) -> list[float] | None:
    value = reading.get(name)
    return value if isinstance(value, list) else None
