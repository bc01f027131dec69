"""The cluster's numbers, computed from every process's snapshot plus a few bounded reads.

What one computation costs, whatever the number of viewers:
- Redis: one ZRANGEBYSCORE and one MGET of the snapshots, one INFO, one PING;
- the broker: one pipeline of LLEN + LINDEX per queue on Redis, a passive declare per queue on
  RabbitMQ (read timeout);
- PostgreSQL, every time: three statements in one transaction under SET LOCAL
  statement_timeout (TELEMETRY_SQL_TIMEOUT) around one read of connections by
  application_name and state with the connection settings (also the health probe);
- PostgreSQL, the slow part ("totals"): capped counts of dead letters and the firing
  alerts, four statements; the console reads them through a cache refreshed with each
  telemetry sample (selectors.py), the sampler afresh;
- the provider's breaker state (one Redis read).
Each part that fails leaves its numbers None and adds a note; nothing raises.
"""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import structlog
from django.conf import settings
from django.db import DatabaseError, connection

from apps.telemetry.hooks import ENQUEUED_AT_HEADER
from apps.telemetry.levels import TILE_RULES, breaching_rules, tile_levels, worst
from apps.telemetry.reporter import key, snapshot_ttl
from lib import metrics
from lib.broker import BROKER_ERRORS, amqp_queue_depths, bounded_transport_options
from lib.db import statement_timeout
from lib.redis import REDIS_ERRORS, get_client

logger = structlog.get_logger(__name__)
T = TypeVar("T")

PROVIDER_TARGET = "payment_provider"
# Counts of dead letters are exact up to this many rows, then the planner's estimate.
EXACT_COUNT_CAP = 10_000
HEALTH_LEVELS = {"ok": 0, "degraded": 1, "down": 2}


@dataclass
class Timed:
    value: Any = None
    ok: bool = False
    took_ms: float = 0.0
    error: str = ""


@dataclass
class Parts:
    """The raw reads one aggregate is built from (each Timed: value, ok, time taken)."""

    snapshots: Timed = field(default_factory=Timed)
    redis_ping: Timed = field(default_factory=Timed)
    redis_info: Timed = field(default_factory=Timed)
    queues: Timed = field(default_factory=Timed)
    database: Timed = field(default_factory=Timed)
    totals: Timed = field(default_factory=Timed)
    breaker: Timed = field(default_factory=Timed)


def _timed(read: Callable[[], T], *, what: str, errors: tuple[type[BaseException], ...]) -> Timed:
    started = time.perf_counter()
    try:
        value = read()
    except errors as exc:
        logger.warning("telemetry_read_failed", what=what, error_class=type(exc).__name__)
        if isinstance(exc, REDIS_ERRORS):
            metrics.increment("redis_failures", purpose="read")
        return Timed(None, False, _ms_since(started), type(exc).__name__)
    return Timed(value, True, _ms_since(started))


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


# --- reads ------------------------------------------------------------------------


def snapshots_read() -> list[dict[str, Any]]:
    """Every live process's snapshot: one ZRANGEBYSCORE, one MGET (read client). Raises on Redis errors."""
    client = get_client("read")
    ids: list[bytes] = client.zrangebyscore(key("processes"), time.time() - snapshot_ttl(), "+inf")  # type: ignore[assignment]  # bytes without decode_responses
    if not ids:
        return []
    raw = client.mget([key("process", i.decode()) for i in ids])
    return sorted((json.loads(r) for r in raw if r), key=lambda s: (s["kind"], s["host"], s["pid"]))


def redis_info_read() -> dict[str, Any]:
    info = get_client("read").info()
    return {
        "clients": info.get("connected_clients"),
        "used_memory_bytes": info.get("used_memory"),
        "ops_per_sec": info.get("instantaneous_ops_per_sec"),
    }


def queues_read() -> list[dict[str, Any]]:
    """Depth and oldest message age of each worker queue, bounded by REDIS_READ_TIMEOUT; on the broker in use.

    Redis: one pipeline. Kombu's Redis transport LPUSHes and BRPOPs, so a
    queue's oldest message is its last element; its `x_enqueued_at` header
    (hooks.task_stamp_enqueued_at) tells its age. A message published without
    the header has an unknown age.
    RabbitMQ: a passive declare per queue gives its depth; the oldest age is
    unknown (None) there, since reading a message would take it.
    """
    from ops_console.celery import app

    queues = list(settings.WORKER_QUEUES)
    options = bounded_transport_options(
        settings.CELERY_BROKER_KIND, timeout=settings.REDIS_READ_TIMEOUT, connect_timeout=settings.REDIS_CONNECT_TIMEOUT
    )
    if settings.CELERY_BROKER_KIND == "amqp":
        with app.connection_for_read(transport_options=options) as broker:
            depths = amqp_queue_depths(broker, queues)
        return [{"name": queue, "depth": depths[queue], "oldest_age_s": None} for queue in queues]
    prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", "")
    with app.connection_for_read(transport_options=options) as broker:
        client = broker.default_channel.client  # type: ignore[attr-defined]  # the Redis transport's channel has one
        pipe = client.pipeline(transaction=False)
        for queue in queues:
            pipe.llen(queue)  # kombu's client adds the global prefix to LLEN itself
            pipe.execute_command("LINDEX", f"{prefix}{queue}", -1)
        replies = pipe.execute()
    now = time.time()
    return [
        {"name": queue, "depth": int(replies[2 * n]), "oldest_age_s": _message_age(replies[2 * n + 1], now)}
        for n, queue in enumerate(queues)
    ]


def _message_age(raw: bytes | None, now: float) -> float | None:
    if raw is None:
        return None
    try:
        enqueued_at = float(json.loads(raw)["headers"][ENQUEUED_AT_HEADER])
    except (ValueError, KeyError, TypeError):
        return None
    return round(max(0.0, now - enqueued_at), 1)


def database_read() -> dict[str, Any]:
    """Connections by application and state, and the connection budget: three statements under TELEMETRY_SQL_TIMEOUT."""
    with statement_timeout(settings.TELEMETRY_SQL_TIMEOUT), connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(application_name, ''), coalesce(state, ''), count(*),"
            " current_setting('max_connections')::int, current_setting('superuser_reserved_connections')::int,"
            " coalesce(nullif(current_setting('reserved_connections', true), ''), '0')::int"
            " FROM pg_stat_activity WHERE backend_type = 'client backend' GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2"
        )
        rows = cursor.fetchall()
    settings_row = rows[0][3:] if rows else (None, None, None)
    return {
        "connections": [{"application_name": a, "state": s, "count": c} for a, s, c, *_ in rows],
        "max_connections": settings_row[0],
        "reserved": None if settings_row[1] is None else settings_row[1] + settings_row[2],
    }


def totals_read() -> dict[str, Any]:
    """Dead letters (capped counts) and the firing alerts: four statements under TELEMETRY_SQL_TIMEOUT.

    The slow part of the overview: it changes when a task dead-letters or the sampler
    opens or resolves an alert, so the console shares one reading per sample (selectors.py).
    """
    with statement_timeout(settings.TELEMETRY_SQL_TIMEOUT), connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM (SELECT 1 FROM dead_letters WHERE status = 'new' LIMIT %s) AS capped),"
            " (SELECT count(*) FROM (SELECT 1 FROM dead_letters LIMIT %s) AS capped),"
            " (SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = 'dead_letters'::regclass)",
            [EXACT_COUNT_CAP + 1, EXACT_COUNT_CAP + 1],
        )
        new, total, estimate = cursor.fetchone()
        cursor.execute("SELECT rule, since, summary FROM telemetry_alerts WHERE state = 'firing' ORDER BY since, rule")
        alerts = cursor.fetchall()
    return {
        "read_at": time.time(),
        "dead_letters": {"new": new, "total": total if total <= EXACT_COUNT_CAP else max(total, estimate)},
        "alerts": [
            {"rule": rule, "state": "firing", "since": since.isoformat(), "summary": summary}
            for rule, since, summary in alerts
        ],
    }


def breaker_read() -> dict[str, Any] | None:
    from lib.http import http_client

    if PROVIDER_TARGET not in settings.HTTP_TARGETS:
        return None
    return http_client(PROVIDER_TARGET).breaker_status()


def parts_read(*, totals: Callable[[], dict[str, Any]] = totals_read) -> Parts:
    """Every read an aggregate needs, each bounded and each allowed to fail on its own.

    `totals` gives the slow part (totals_read's shape): the sampler reads it afresh,
    the console through its per-sample cache.
    """
    redis_errors = (*REDIS_ERRORS, ValueError)
    return Parts(
        snapshots=_timed(snapshots_read, what="snapshots", errors=redis_errors),
        redis_ping=_timed(lambda: get_client("read").ping(), what="redis_ping", errors=redis_errors),
        redis_info=_timed(redis_info_read, what="redis_info", errors=redis_errors),
        queues=_timed(queues_read, what="queues", errors=(*redis_errors, *BROKER_ERRORS)),
        database=_timed(database_read, what="database", errors=(DatabaseError,)),
        totals=_timed(totals, what="totals", errors=(DatabaseError,)),
        breaker=_timed(breaker_read, what="breaker", errors=redis_errors),
    )


# --- building the overview -----------------------------------------------------------


def cluster_overview_build(parts: Parts, *, now: datetime.datetime) -> dict[str, Any]:
    """The overview (shape in docs/console.md, "JSON twin") from the reads. Pure: no I/O."""
    snapshots: list[dict[str, Any]] = parts.snapshots.value or []
    known = parts.snapshots.ok
    by_kind = {kind: [s for s in snapshots if s["kind"] == kind] for kind in ("web", "worker", "beat", "relay")}
    database = parts.database.value or {}
    totals = parts.totals.value or {}
    http = _http_tile(by_kind["web"]) if known else _unknown_http()
    pool = _pool_tile(snapshots, database) if known else None
    ws = _ws_tile(by_kind["web"]) if known else None
    queues = parts.queues.value
    dead_letters = totals.get("dead_letters") or {"new": None, "total": None}
    tasks = (
        _tasks_tile(by_kind["worker"]) if known else {"succeeded": None, "failed": None, "retried": None, "per_s": None}
    )
    provider = _provider_tile(snapshots, parts.breaker.value)
    alerts = totals.get("alerts", [])
    health = _health(parts, by_kind, provider)
    tiles = {
        "http": http,
        "db_pool": pool or _unknown_pool(database),
        "postgres_connections": database.get("connections", []),
        "redis": parts.redis_info.value or {"clients": None, "used_memory_bytes": None, "ops_per_sec": None},
        "websockets": ws or {"connections": None, "cap": None, "refused": None, "dropped": None, "instances": []},
        "queues": queues or [],
        "tasks": tasks,
        "dead_letters": dead_letters,
        "provider": provider,
        "rate_limiter": {"fail_open": sum(s["rate_limiter"]["fail_open"] for s in snapshots) if known else None},
    }
    overview = {
        "generated_at": now.isoformat(),
        "totals_read_at": _iso(totals.get("read_at")),
        "totals_age_s": None if "read_at" not in totals else round(max(0.0, now.timestamp() - totals["read_at"]), 1),
        "summary": _summary(tiles, alerts if parts.totals.ok else None),
        "processes": [_process(s, now=now.timestamp()) for s in snapshots],
        "tiles": tiles,
        "health": health,
        "alerts": alerts,
        "notes": _notes(parts),
    }
    series = overview_series(overview)
    overview["levels"] = tile_levels(tiles=tiles, health=health, alerts=alerts, series=series)
    overview["status"] = _status(overview, by_kind, series)
    return overview


def _merged_quantiles(histograms: list[list[float] | None]) -> dict[str, float | None]:
    merged = metrics.histogram_merge(h for h in histograms if h)
    return {f"p{q}_ms": _round(metrics.histogram_quantile(merged, q / 100)) for q in (50, 95, 99)}


def _http_tile(web: list[dict[str, Any]]) -> dict[str, Any]:
    recent = [s["http"]["recent"] for s in web if s.get("http")]
    total = sum(sum(r.values()) for r in recent)
    errors = sum(r.get("5xx", 0) for r in recent)
    return {
        "rps": round(sum(s["http"]["rps"] for s in web if s.get("http")), 3),
        "error_rate": round(errors / total, 5) if total else 0.0,
        **_merged_quantiles([s["http"]["latency_recent"] for s in web if s.get("http")]),
    }


def _unknown_http() -> dict[str, Any]:
    return {"rps": None, "error_rate": None, "p50_ms": None, "p95_ms": None, "p99_ms": None}


def _pool_tile(snapshots: list[dict[str, Any]], database: dict[str, Any]) -> dict[str, Any]:
    pools = [s["pool"] for s in snapshots if s.get("pool")]
    pool_max_sum = sum(p["max"] for p in pools)
    return {
        "in_use": sum(p["in_use"] for p in pools),
        "max": pool_max_sum,
        "waiting": sum(p["waiting"] for p in pools),
        "wait_ms": round(sum(p["wait_ms"] for p in pools), 1),
        "timeouts": sum(p["timeouts"] for p in pools),
        "budget": _budget(pool_max_sum, database),
    }


def _budget(pool_max_sum: int | None, database: dict[str, Any]) -> dict[str, Any]:
    """Σ pool max against PostgreSQL's limit, or behind PgBouncer against its max_client_conn (docs/pgbouncer.md)."""
    max_connections: int | None
    reserved: int | None
    if settings.DB_PGBOUNCER:
        max_connections, reserved, limit = settings.PGBOUNCER_MAX_CLIENT_CONN, 0, "PgBouncer"
    else:
        max_connections, reserved, limit = database.get("max_connections"), database.get("reserved"), "PostgreSQL"
    headroom = None
    if None not in (pool_max_sum, max_connections, reserved):
        headroom = max_connections - reserved - pool_max_sum  # type: ignore[operator]  # all known here
    return {
        "pool_max_sum": pool_max_sum,
        "max_connections": max_connections,
        "reserved": reserved,
        "headroom": headroom,
        "limit": limit,
    }


def _unknown_pool(database: dict[str, Any]) -> dict[str, Any]:
    return {
        "in_use": None,
        "max": None,
        "waiting": None,
        "wait_ms": None,
        "timeouts": None,
        "budget": _budget(None, database),
    }


def _ws_tile(web: list[dict[str, Any]]) -> dict[str, Any]:
    sockets = [(s["id"], s["ws"]) for s in web if s.get("ws")]
    return {
        "connections": sum(w["connections"] for _, w in sockets),
        "cap": sum(w["cap"] for _, w in sockets),
        "refused": sum(w["refused"] for _, w in sockets),
        "dropped": sum(w["dropped"] for _, w in sockets),
        "instances": [{"id": i, "connections": w["connections"], "cap": w["cap"]} for i, w in sockets],
    }


def _tasks_tile(workers: list[dict[str, Any]]) -> dict[str, Any]:
    tasks = [s["tasks"] for s in workers if s.get("tasks")]
    return {
        **{state: sum(t["recent"][state] for t in tasks) for state in ("succeeded", "failed", "retried")},
        "per_s": round(sum(t["per_s"] for t in tasks), 3),
    }


def _provider_tile(snapshots: list[dict[str, Any]], breaker: dict[str, Any] | None) -> dict[str, Any]:
    outbound = [s["outbound"][PROVIDER_TARGET] for s in snapshots if PROVIDER_TARGET in s.get("outbound", {})]
    last = max(outbound, key=lambda o: o.get("last_at") or 0, default=None)
    return {
        "calls": sum(o["recent_calls"] for o in outbound),
        "errors": sum(o["recent_errors"] for o in outbound),
        "p95_ms": _merged_quantiles([o["latency_recent"] for o in outbound])["p95_ms"],
        "breaker_state": breaker["state"] if breaker else None,
        "last_outcome": last["last_outcome"] if last else None,
    }


def _process(snapshot: dict[str, Any], *, now: float) -> dict[str, Any]:
    pool = snapshot.get("pool")
    return {
        "id": snapshot["id"],
        "kind": snapshot["kind"],
        "host": snapshot["host"],
        "pid": snapshot["pid"],
        "group": snapshot.get("group"),
        "version": snapshot["version"],
        "started_at": snapshot["started_at"],
        "age_s": round(max(0.0, now - snapshot["reported_at"]), 1),
        "pool": {k: pool[k] for k in ("size", "max", "in_use", "idle", "waiting", "wait_ms", "timeouts")}
        if pool
        else None,
        "http": _process_http(snapshot["http"]) if snapshot.get("http") else None,
        "ws": {k: snapshot["ws"][k] for k in ("connections", "cap", "refused", "dropped")}
        if snapshot.get("ws")
        else None,
        "tasks": {**snapshot["tasks"]["recent"], "per_s": snapshot["tasks"]["per_s"]}
        if snapshot.get("tasks")
        else None,
    }


def _process_http(http: dict[str, Any]) -> dict[str, Any]:
    total = sum(http["recent"].values())
    return {
        "rps": http["rps"],
        "error_rate": round(http["recent"].get("5xx", 0) / total, 5) if total else 0.0,
        **_merged_quantiles([http["latency_recent"]]),
    }


# --- health and status -------------------------------------------------------------------


def _check(name: str, state: str, took_ms: float, detail: str) -> dict[str, Any]:
    return {"name": name, "state": state, "took_ms": took_ms, "detail": detail}


def _speed(timed: Timed) -> str:
    return "degraded" if timed.took_ms > settings.TELEMETRY_SLOW_CHECK_MS else "ok"


def _health(parts: Parts, by_kind: dict[str, list[dict[str, Any]]], provider: dict[str, Any]) -> list[dict[str, Any]]:
    database, ping, queues = parts.database, parts.redis_ping, parts.queues
    checks = [
        _check("postgres", _speed(database) if database.ok else "down", database.took_ms,
               "answering" if database.ok else f"query failed ({database.error})"),
        _check("redis", _speed(ping) if ping.ok else "down", ping.took_ms,
               "answering" if ping.ok else f"unreachable ({ping.error})"),
        _check("broker", _speed(queues) if queues.ok else "down", queues.took_ms,
               "answering" if queues.ok else f"unreachable ({queues.error})"),
    ]  # fmt: skip
    took = parts.snapshots.took_ms
    if not parts.snapshots.ok:
        unknown = "unknown: the snapshots in Redis cannot be read"
        checks += [_check("workers", "degraded", took, unknown), _check("beat", "degraded", took, unknown)]
    else:
        groups = {s.get("group") for s in by_kind["worker"]}
        workers_state = (
            "ok" if len(groups) >= max(1, settings.ALERT_MIN_WORKERS) else ("degraded" if groups else "down")
        )
        checks.append(_check("workers", workers_state, took, f"{len(groups)} worker(s) reporting"))
        checks.append(_check("beat", "ok" if by_kind["beat"] else "down", took,
                             "reporting" if by_kind["beat"] else "not reporting"))  # fmt: skip
        checks.append(_check("relay", "ok" if by_kind["relay"] else "degraded", took,
                             f"{len(by_kind['relay'])} outbox relay(s) reporting"))  # fmt: skip
    checks.append(_provider_health(parts.breaker, provider))
    return checks


def _provider_health(breaker: Timed, provider: dict[str, Any]) -> dict[str, Any]:
    state, last = provider["breaker_state"], provider["last_outcome"]
    if state == "open":
        level = "down"
    elif state == "half-open" or (last not in (None, "ok", "client_error")) or not breaker.ok:
        level = "degraded"
    else:
        level = "ok"
    detail = f"breaker {state or 'unknown'}, last call {last or 'none yet'}"
    return _check("provider", level, breaker.took_ms, detail)


def _status(
    overview: dict[str, Any], by_kind: dict[str, list[dict[str, Any]]], series: dict[str, Any]
) -> dict[str, Any]:
    """The banner: the worst tile level (levels.py), and in words everything that is not ok."""
    health, alerts, tiles = overview["health"], overview["alerts"], overview["tiles"]
    reasons = [f"{h['name']} {h['state']}: {h['detail']}" for h in health if h["state"] != "ok"]
    web = by_kind["web"]
    waiting = [s for s in web if s.get("pool") and (s["pool"]["waiting"] or s["pool"]["timeouts"])]
    if waiting:
        reasons.append(f"{len(waiting)} of {len(web)} web processes report pool waits")
    reasons += [alert["summary"] for alert in alerts]
    firing = {alert["rule"] for alert in alerts}
    health_rules = set(TILE_RULES["health"]) | {"breaker_open"}  # said by the health lines already
    reasons += [
        f"{rule.summary.format(value=series[rule.series], threshold=rule.threshold())}"
        f" (alert after {rule.for_seconds():.0f} s)"
        for rule in breaching_rules(series)
        if rule.name not in firing and rule.name not in health_rules
    ]
    if (tiles["websockets"].get("refused") or 0) > 0:
        reasons.append(f"{tiles['websockets']['refused']} WebSocket handshakes refused lately")
    if (tiles["dead_letters"].get("new") or 0) > 0 and "dead_letters_growing" not in firing:
        reasons.append(f"{tiles['dead_letters']['new']} new dead letters")
    if (tiles["rate_limiter"].get("fail_open") or 0) > 0:
        reasons.append(f"rate limiter failed open {tiles['rate_limiter']['fail_open']} times (Redis)")
    level = worst(list(overview["levels"].values()))
    return {"level": "ok" if level == "unknown" else level, "reasons": reasons}


def _summary(tiles: dict[str, Any], alerts: list[dict[str, Any]] | None) -> dict[str, Any]:
    http, pool, ws, queues = tiles["http"], tiles["db_pool"], tiles["websockets"], tiles["queues"]
    ages = [q["oldest_age_s"] for q in queues if q["oldest_age_s"] is not None]
    return {
        "http_rps": http["rps"],
        "http_5xx_rate": http["error_rate"],
        "http_p95_ms": http["p95_ms"],
        "db_pool_in_use": pool["in_use"],
        "db_pool_max": pool["max"],
        "ws_connections": ws["connections"],
        "ws_cap": ws["cap"],
        "queue_depth": sum(q["depth"] for q in queues) if queues else None,
        "queue_oldest_age_s": max(ages) if ages else None,
        "dead_letters_new": tiles["dead_letters"]["new"],
        "alerts_firing": None if alerts is None else len(alerts),
    }


def _notes(parts: Parts) -> list[str]:
    names = {
        "snapshots": "process snapshots (Redis)",
        "redis_info": "Redis INFO",
        "queues": "queue depths (broker)",
        "database": "PostgreSQL numbers",
        "totals": "dead letters and firing alerts (PostgreSQL)",
        "breaker": "the provider's breaker state",
    }
    return [
        f"{label} unavailable: {getattr(parts, part).error}"
        for part, label in names.items()
        if not getattr(parts, part).ok
    ]


def _iso(unix: float | None) -> str | None:
    return None if unix is None else datetime.datetime.fromtimestamp(unix, tz=datetime.UTC).isoformat()


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


# --- the series sampled into PostgreSQL ----------------------------------------------------


def overview_series(overview: dict[str, Any]) -> dict[str, float | None]:
    """The overview's numbers as dotted series names (the tile keys), for telemetry_samples. Pure."""
    tiles, health = overview["tiles"], {h["name"]: h for h in overview["health"]}
    series: dict[str, float | None] = {}
    for tile in ("http", "tasks", "dead_letters", "redis", "rate_limiter"):
        series.update({f"{tile}.{k}": _number(v) for k, v in tiles[tile].items()})
    pool = tiles["db_pool"]
    series.update({f"db_pool.{k}": _number(v) for k, v in pool.items() if k != "budget"})
    series.update({f"db_pool.budget.{k}": _number(v) for k, v in pool["budget"].items() if k != "limit"})
    series["db_pool.usage"] = _ratio(pool["in_use"], pool["max"])
    ws = tiles["websockets"]
    series.update({f"websockets.{k}": _number(ws[k]) for k in ("connections", "cap", "refused", "dropped")})
    series["websockets.usage"] = _ratio(ws["connections"], ws["cap"])
    postgres = postgres_connection_counts(tiles["postgres_connections"])
    series.update({f"postgres_connections.{k}": _number(v) for k, v in postgres.items()})
    summary = overview["summary"]
    series["queues.depth"] = _number(summary["queue_depth"])
    series["queues.oldest_age_s"] = _number(summary["queue_oldest_age_s"])
    for queue in tiles["queues"]:
        series[f"queues.depth.{queue['name']}"] = _number(queue["depth"])
        series[f"queues.oldest_age_s.{queue['name']}"] = _number(queue["oldest_age_s"])
    provider = tiles["provider"]
    series.update({f"provider.{k}": _number(provider[k]) for k in ("calls", "errors", "p95_ms")})
    series["provider.breaker_open"] = (
        None if provider["breaker_state"] is None else float(provider["breaker_state"] == "open")
    )
    for name, check in health.items():
        series[f"health.{name}"] = float(HEALTH_LEVELS[check["state"]])
    snapshots_known = "workers" in health and not health["workers"]["detail"].startswith("unknown")
    groups = {p["group"] for p in overview["processes"] if p["kind"] == "worker"}
    series["workers.alive"] = float(len(groups)) if snapshots_known else None
    series["beat.alive"] = float(any(p["kind"] == "beat" for p in overview["processes"])) if snapshots_known else None
    series["alerts.firing"] = _number(summary["alerts_firing"])
    return series


def postgres_connection_counts(connections: list[dict[str, Any]]) -> dict[str, int | None]:
    """Client connections in all, and those idle in a transaction (aborted ones too). Pure.

    None when nothing was read: a read that answered counts at least its own connection.
    """
    if not connections:
        return {"total": None, "idle_in_transaction": None}
    return {
        "total": sum(c["count"] for c in connections),
        "idle_in_transaction": sum(c["count"] for c in connections if c["state"].startswith("idle in transaction")),
    }


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _ratio(part: Any, whole: Any) -> float | None:
    if not isinstance(part, int | float) or not isinstance(whole, int | float) or whole <= 0:
        return None
    return round(part / whole, 4)
