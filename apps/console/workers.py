"""The workers and queues page (/ops/workers): live and lost workers, beat, queues, tasks; and the controls.

Reads: the processes' snapshots (their heartbeats, every TELEMETRY_INTERVAL), the workers seen
lately (`<p>:workers-seen`, so a worker that stops reporting is marked lost, not dropped), the
overview's queue depths and the queues' history (telemetry_samples). Shared by every viewer for
CONSOLE_LIVE_INTERVAL seconds (apps/console/shared_cache.py).

Controls are Celery's remote-control broadcasts, each waiting at most CONSOLE_CONTROL_TIMEOUT
for replies; the page lists who answered. All are audited.
"""

from __future__ import annotations

import fnmatch
import json
import re
import time
from typing import Any

import structlog
from django.conf import settings

from apps.console.models import OperatorAction
from apps.console.services import audit_record
from apps.console.shared_cache import shared_reading, shared_reading_forget
from apps.telemetry import selectors as telemetry
from lib import metrics
from lib.redis import REDIS_ERRORS, redis_read, redis_write

logger = structlog.get_logger(__name__)

# A schedule entry whose next run is this many seconds overdue is late.
BEAT_LATE_AFTER_S = 10.0
TASK_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,154}$")
NODENAME = re.compile(r"^[A-Za-z0-9_.@-]{1,255}$")


def _key(*parts: str) -> str:
    return ":".join([settings.TELEMETRY_KEY_PREFIX, *parts])


def queue_of(task_name: str) -> str:
    """The queue CELERY_TASK_ROUTES sends `task_name` to (the default queue otherwise). No I/O."""
    for pattern, route in settings.CELERY_TASK_ROUTES.items():
        if fnmatch.fnmatchcase(task_name, pattern):
            return str(route["queue"])
    return str(settings.CELERY_TASK_DEFAULT_QUEUE)


# --- the page --------------------------------------------------------------------------


def workers_page() -> dict[str, Any]:
    """Everything /ops/workers shows: the overview (summary bar) and the shared workers reading."""
    return {"overview": telemetry.console_overview(), **workers_reading()}


def workers_reading() -> dict[str, Any]:
    return shared_reading("workers", ttl=settings.CONSOLE_LIVE_INTERVAL, compute=workers_reading_build)


def workers_reading_build() -> dict[str, Any]:
    """Reads Redis (snapshots, workers seen, paused queues), the overview (cached) and one bounded SQL (history)."""
    notes: list[str] = []
    try:
        snapshots = telemetry.process_snapshots()
    except (*REDIS_ERRORS, ValueError) as exc:
        notes.append(f"process snapshots unavailable: {type(exc).__name__}")
        snapshots = []
    now = time.time()
    workers = workers_live(snapshots, now=now) + workers_lost(snapshots, now=now)
    queue_names = list(settings.WORKER_QUEUES)
    history = telemetry.metric_series(
        names=[f"queues.{m}.{q}" for q in queue_names for m in ("depth", "oldest_age_s")], range_="1h"
    )
    return {
        "generated_at": now,
        "workers": workers,
        "beat": beat_entries(snapshots, now=now),
        "queues": queue_rows(snapshots, telemetry.console_overview()["tiles"]["queues"], paused=queues_paused()),
        "history": history,
        "tasks": task_rows(snapshots),
        "control_timeout_s": settings.CONSOLE_CONTROL_TIMEOUT,
        "broker": settings.CELERY_BROKER_KIND,
        # RabbitMQ gives a queue's depth, not its oldest message's age (lib/broker.py).
        "oldest_age_known": settings.CELERY_BROKER_KIND == "redis",
        "notes": notes,
    }


def _groups(snapshots: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for snapshot in snapshots:
        if snapshot["kind"] == "worker":
            groups.setdefault(snapshot["group"], []).append(snapshot)
    return groups


def _counts(snapshots: list[dict[str, Any]]) -> dict[str, int]:
    counts = {"succeeded": 0, "failed": 0, "retried": 0}
    for snapshot in snapshots:
        for entry in ((snapshot.get("tasks") or {}).get("by_name") or {}).values():
            for state in counts:
                counts[state] += int(entry.get(state) or 0)
    return {"processed": counts["succeeded"] + counts["failed"], **counts}


def _worker_row(group: str, members: list[dict[str, Any]], *, now: float, state: str) -> dict[str, Any]:
    main = next((s for s in members if s.get("worker")), None)
    info = (main or {}).get("worker") or {}
    last = max(s["reported_at"] for s in members)
    return {
        "group": group,
        "state": state,
        "host": members[0]["host"],
        "pid": (main or members[0])["pid"],
        "nodename": info.get("nodename"),
        "queues": info.get("queues"),
        "concurrency": info.get("concurrency"),
        "children": len([s for s in members if s is not main]),
        "reserved": info.get("reserved"),
        "active": [
            {**task, "runtime_s": round(max(0.0, now - task["started_at"]), 1) if task.get("started_at") else None}
            for task in info.get("active") or []
        ],
        **_counts(members),
        "last_heartbeat": last,
        "heartbeat_age_s": round(max(0.0, now - last), 1),
    }


def workers_live(snapshots: list[dict[str, Any]], *, now: float) -> list[dict[str, Any]]:
    return [_worker_row(g, m, now=now, state="alive") for g, m in sorted(_groups(snapshots).items())]


def workers_lost(snapshots: list[dict[str, Any]], *, now: float) -> list[dict[str, Any]]:
    """Workers seen within CONSOLE_WORKER_LOST_AFTER that no longer report: their last heartbeat, marked lost.
    One ZRANGEBYSCORE and one MGET on the read client (fail open: none shown)."""
    alive = set(_groups(snapshots))

    def read(client: Any) -> list[dict[str, Any]]:
        seen = [
            g.decode()
            for g in client.zrangebyscore(_key("workers-seen"), now - settings.CONSOLE_WORKER_LOST_AFTER, "+inf")
        ]
        gone = [g for g in seen if g not in alive]
        if not gone:
            return []
        return [json.loads(raw) for raw in client.mget([_key("worker-last", g) for g in gone]) if raw]

    empty: list[dict[str, Any]] = []
    lost = redis_read(read, default=empty, what="console_workers_seen")
    return [_worker_row(s["group"], [s], now=now, state="lost") | {"active": []} for s in lost]


def beat_entries(snapshots: list[dict[str, Any]], *, now: float) -> dict[str, Any]:
    beats = [s for s in snapshots if s["kind"] == "beat"]
    entries = []
    for beat in beats:
        for entry in (beat.get("beat") or {}).get("entries") or []:
            next_run = entry.get("next_run_at")
            entries.append({**entry, "beat": beat["id"], "late": next_run is not None and now - next_run > BEAT_LATE_AFTER_S,
                            "overdue_s": round(max(0.0, now - next_run), 1) if next_run is not None else None})  # fmt: skip
    return {"reporting": len(beats), "entries": entries}


def queue_rows(
    snapshots: list[dict[str, Any]], depths: list[dict[str, Any]], *, paused: dict[str, list[str]]
) -> list[dict[str, Any]]:
    """Per queue: depth and oldest age (the overview's), enqueue / completion rates and failure rate over the window."""
    by_queue = {q["name"]: q for q in depths}
    enqueued: dict[str, float] = {}
    done: dict[str, dict[str, float]] = {}
    for snapshot in snapshots:
        window = max(float(snapshot.get("window_s") or 0.0), 1e-6)
        for queue, n in ((snapshot.get("published") or {}).get("recent") or {}).items():
            enqueued[queue] = enqueued.get(queue, 0.0) + n / window
        for task, states in ((snapshot.get("tasks") or {}).get("recent_by_name") or {}).items():
            entry = done.setdefault(queue_of(task), {"succeeded": 0.0, "failed": 0.0, "per_s": 0.0})
            entry["succeeded"] += states.get("succeeded", 0)
            entry["failed"] += states.get("failed", 0)
            entry["per_s"] += (states.get("succeeded", 0) + states.get("failed", 0)) / window
    rows = []
    for name in settings.WORKER_QUEUES:
        finished = done.get(name, {"succeeded": 0.0, "failed": 0.0, "per_s": 0.0})
        total = finished["succeeded"] + finished["failed"]
        known = bool(snapshots)
        rows.append({
            "name": name,
            "depth": by_queue.get(name, {}).get("depth"),
            "oldest_age_s": by_queue.get(name, {}).get("oldest_age_s"),
            "enqueued_per_s": round(enqueued.get(name, 0.0), 3) if known else None,
            "completed_per_s": round(finished["per_s"], 3) if known else None,
            "failure_rate": round(finished["failed"] / total, 4) if total else (0.0 if known else None),
            "paused_on": paused.get(name, []),
        })  # fmt: skip
    return rows


def task_rows(snapshots: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per task name over the live workers since they started: runs, failures, retries, merged p50 / p95."""
    merged: dict[str, dict[str, Any]] = {}
    for snapshot in snapshots:
        for task, entry in ((snapshot.get("tasks") or {}).get("by_name") or {}).items():
            row = merged.setdefault(task, {"succeeded": 0, "failed": 0, "retried": 0, "histograms": []})
            for state in ("succeeded", "failed", "retried"):
                row[state] += int(entry.get(state) or 0)
            if isinstance(entry.get("runtime"), list):
                row["histograms"].append(entry["runtime"])
    rows = []
    for task, row in sorted(merged.items()):
        histogram = metrics.histogram_merge(row.pop("histograms"))
        rows.append({
            "task": task,
            "queue": queue_of(task),
            "runs": row["succeeded"] + row["failed"],
            **row,
            "p50_ms": _round(metrics.histogram_quantile(histogram, 0.5)),
            "p95_ms": _round(metrics.histogram_quantile(histogram, 0.95)),
        })  # fmt: skip
    return rows


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def queues_paused() -> dict[str, list[str]]:
    """queue -> the workers that stopped consuming it from the console (until resumed). One HGETALL."""
    empty: dict[Any, Any] = {}
    raw = redis_read(
        lambda client: dict(client.hgetall(_key("paused-queues"))), default=empty, what="console_paused_queues"
    )
    return {(k.decode() if isinstance(k, bytes) else k): json.loads(v) for k, v in raw.items()}


# --- controls --------------------------------------------------------------------------


class ControlRefused(ValueError):
    """The control's input names nothing it may act on (unknown queue, malformed task id, unknown worker)."""


def _broadcast(command: str, *, destination: list[str] | None = None, **arguments: Any) -> list[dict[str, Any]]:
    """One remote-control broadcast that waits CONSOLE_CONTROL_TIMEOUT for replies: [{"worker", "reply"}]."""
    from ops_console.celery import app

    replies = (
        app.control.broadcast(
            command, arguments=arguments, destination=destination, reply=True, timeout=settings.CONSOLE_CONTROL_TIMEOUT
        )
        or []
    )
    answered = []
    for reply in replies:
        for worker, answer in reply.items():
            answered.append({"worker": worker, "reply": answer.get("ok") or answer.get("error") or answer})
    return sorted(answered, key=lambda a: a["worker"])


def _finish(actor: Any, action: str, target: str, answered: list[dict[str, Any]], **detail: Any) -> dict[str, Any]:
    outcome = OperatorAction.Outcome.SUCCEEDED if answered else OperatorAction.Outcome.FAILED
    audit_record(actor=actor, action=action, target=target, outcome=outcome, detail={"answered": answered, **detail})
    shared_reading_forget("workers")
    logger.info("worker_control", action=action, target=target, answered=len(answered))
    return {"action": action, "target": target, "outcome": outcome, "answered": answered,
            "timeout_s": settings.CONSOLE_CONTROL_TIMEOUT, **detail}  # fmt: skip


def _refuse(actor: Any, action: str, target: str, reason: str) -> ControlRefused:
    audit_record(actor=actor, action=action, target=target[:255], outcome=OperatorAction.Outcome.REFUSED,
                 detail={"reason": reason})  # fmt: skip
    return ControlRefused(reason)


def task_revoke(*, actor: Any, task_id: str) -> dict[str, Any]:
    """Revoke a queued task on every worker (it is discarded when a worker takes it). Broadcast, bounded; audited."""
    if not TASK_ID.match(task_id):
        raise _refuse(actor, "workers.revoke", task_id, "a task id is 1-155 letters, digits, '-', '_', '.' or ':'")
    return _finish(actor, "workers.revoke", task_id, _broadcast("revoke", task_id=task_id, terminate=False))


def queue_pause(*, actor: Any, queue: str) -> dict[str, Any]:
    """Every worker stops consuming `queue` (cancel_consumer); messages wait in it until resumed. Audited."""
    _known_queue(actor, "workers.pause_queue", queue)
    answered = _broadcast("cancel_consumer", queue=queue)
    if answered:
        names = [a["worker"] for a in answered]
        redis_write(
            lambda client: client.hset(_key("paused-queues"), queue, json.dumps(names)), what="console_paused_queues"
        )
    return _finish(actor, "workers.pause_queue", queue, answered)


def queue_resume(*, actor: Any, queue: str) -> dict[str, Any]:
    """The workers that paused `queue` from here consume it again (add_consumer); all workers when unknown. Audited."""
    _known_queue(actor, "workers.resume_queue", queue)
    destination = queues_paused().get(queue) or None
    answered = _broadcast("add_consumer", queue=queue, destination=destination)
    if answered:
        redis_write(lambda client: client.hdel(_key("paused-queues"), queue), what="console_paused_queues")
    return _finish(actor, "workers.resume_queue", queue, answered, destination=destination)


def worker_shutdown(*, actor: Any, nodename: str) -> dict[str, Any]:
    """Ask one worker to stop after its running tasks (warm shutdown). Pings it first: the reply says it heard.
    Refused when the name is not one live worker's (two workers sharing a name would both stop)."""
    live = [w for w in workers_live(_snapshots_or_none(), now=time.time()) if w["nodename"] == nodename]
    if not NODENAME.match(nodename) or len(live) != 1:
        reason = "no live worker has that name" if not live else f"{len(live)} live workers share that name"
        raise _refuse(actor, "workers.shutdown", nodename, reason)
    answered = _broadcast("ping", destination=[nodename])
    if answered:
        from ops_console.celery import app

        app.control.broadcast("shutdown", destination=[nodename])  # no reply: the worker is stopping
    return _finish(actor, "workers.shutdown", nodename, answered, group=live[0]["group"])


def _snapshots_or_none() -> list[dict[str, Any]]:
    try:
        return telemetry.process_snapshots()
    except (*REDIS_ERRORS, ValueError):
        return []


def _known_queue(actor: Any, action: str, queue: str) -> None:
    if queue not in settings.WORKER_QUEUES:
        raise _refuse(actor, action, queue, f"queue must be one of {', '.join(settings.WORKER_QUEUES)}")
