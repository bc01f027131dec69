"""Every process publishes its snapshot to Redis every TELEMETRY_INTERVAL, from one daemon thread.

Keys (prefix TELEMETRY_KEY_PREFIX):
- `<p>:process:<id>`: the snapshot (JSON), expiring after three intervals, so a
  process that dies leaves the cluster view within three intervals;
- `<p>:processes`: sorted set of process ids scored by their last report, pruned
  of ids older than three intervals on each report.

Each publish is one pipeline on the write client (bounded by
REDIS_WRITE_TIMEOUT, lib/redis.py); a failure is logged, counted and skipped,
and the next interval tries again: a process that cannot reach Redis keeps serving.

Who reports (docs/console.md): uvicorn (started by ops_console/asgi.py), beat
(beat_init), the outbox relay (its command), and for Celery both the worker's
main process (worker_ready) and each prefork pool child (worker_process_init):
a pool is per process and so are task counts, so each child reports its own,
grouped under the main process's `group`.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import structlog
from django.conf import settings

from apps.telemetry.snapshot import Identity, Window, identity_here, snapshot_build
from lib.redis import redis_write

logger = structlog.get_logger(__name__)

_reporter: Reporter | None = None
_start_lock = threading.Lock()


def key(*parts: object) -> str:
    return ":".join([settings.TELEMETRY_KEY_PREFIX, *map(str, parts)])


def snapshot_ttl() -> float:
    return settings.TELEMETRY_INTERVAL * 3


def snapshot_publish(snapshot: dict[str, Any]) -> bool:
    """Write one snapshot and renew its index entry: one pipeline, bounded; False when Redis failed."""
    now, ttl_ms = time.time(), int(snapshot_ttl() * 1000)

    def write(client: Any) -> None:
        pipe = client.pipeline(transaction=False)
        pipe.set(key("process", snapshot["id"]), json.dumps(snapshot, separators=(",", ":")), px=ttl_ms)
        pipe.zadd(key("processes"), {snapshot["id"]: now})
        pipe.zremrangebyscore(key("processes"), "-inf", now - snapshot_ttl())
        if snapshot.get("worker"):
            _worker_seen(pipe, snapshot, now)
        pipe.execute()

    return redis_write(write, what="telemetry_publish")


def _worker_seen(pipe: Any, snapshot: dict[str, Any], now: float) -> None:
    """A worker's main process is remembered for CONSOLE_WORKER_LOST_AFTER, so one that stops
    reporting is shown as lost rather than silently dropped (`<p>:workers-seen`, `<p>:worker-last:<group>`)."""
    keep_ms = int(settings.CONSOLE_WORKER_LOST_AFTER * 1000)
    pipe.set(key("worker-last", snapshot["group"]), json.dumps(snapshot, separators=(",", ":")), px=keep_ms)
    pipe.zadd(key("workers-seen"), {snapshot["group"]: now})
    pipe.zremrangebyscore(key("workers-seen"), "-inf", now - settings.CONSOLE_WORKER_LOST_AFTER)


def snapshot_remove(process_id: str) -> bool:
    """Forget a process at once (a clean shutdown); a crash is forgotten by expiry instead."""

    def delete(client: Any) -> None:
        pipe = client.pipeline(transaction=False)
        pipe.delete(key("process", process_id))
        pipe.zrem(key("processes"), process_id)
        # A worker's main process that stops cleanly is not lost (its id is worker:<group>).
        if process_id.startswith("worker:"):
            group = process_id.removeprefix("worker:")
            pipe.zrem(key("workers-seen"), group)
            pipe.delete(key("worker-last", group))
        pipe.execute()

    return redis_write(delete, what="telemetry_remove")


class Reporter(threading.Thread):
    """Builds and publishes this process's snapshot every TELEMETRY_INTERVAL until stopped."""

    def __init__(self, identity: Identity) -> None:
        super().__init__(name="telemetry-reporter", daemon=True)
        self.identity = identity
        self.window = Window(seconds=settings.TELEMETRY_WINDOW)
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            started = time.monotonic()
            self.report_once()
            self.stopped.wait(max(0.0, settings.TELEMETRY_INTERVAL - (time.monotonic() - started)))

    def report_once(self) -> bool:
        try:
            return snapshot_publish(snapshot_build(identity=self.identity, window=self.window))
        except Exception:  # a reporter that dies would make a healthy process look dead
            logger.exception("telemetry_report_failed")
            return False

    def stop(self, *, forget: bool = True) -> None:
        self.stopped.set()
        if forget:
            snapshot_remove(self.identity.id)


def reporter_start(*, kind: str | None = None, group_pid: int | None = None) -> Reporter | None:
    """Start this process's reporter once (a forked child starts its own); None when telemetry is off."""
    global _reporter
    if not settings.TELEMETRY_ENABLED:
        return None
    with _start_lock:
        identity = identity_here(kind=kind, group_pid=group_pid)
        if _reporter is not None and _reporter.is_alive() and _reporter.identity.pid == identity.pid:
            return _reporter
        _reporter = Reporter(identity)
        _reporter.start()
    logger.info("telemetry_reporter_started", process_id=identity.id, interval_s=settings.TELEMETRY_INTERVAL)
    return _reporter


def reporter_stop() -> None:
    """Stop reporting and delete this process's snapshot (clean shutdown)."""
    global _reporter
    with _start_lock:
        reporter, _reporter = _reporter, None
    if reporter is not None:
        reporter.stop()
