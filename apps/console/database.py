"""The database page (/ops/database): pools, the connection budget, activity, locks, indexes, tables.

Two readings, each shared by every viewer through Redis (apps/console/shared_cache.py):
- activity (connections by application x state, long-running queries, locks), read at most
  once per CONSOLE_DB_ACTIVITY_CACHE, each statement under CONSOLE_DB_ACTIVITY_TIMEOUT;
- statistics (indexes, tables, cache hits, vacuum age, pg_stat_statements), at most once per
  CONSOLE_DB_STATS_CACHE, each statement under CONSOLE_DB_STATS_TIMEOUT.
Each statement runs in its own SET LOCAL statement_timeout block: one that times out leaves
its section None and names itself in `errors`; the others still show. So the page never
becomes the problem it diagnoses.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import structlog
from django.apps import apps as django_apps
from django.conf import settings
from django.db import DatabaseError, connection

from apps.console.budget import budget_summary
from apps.console.models import OperatorAction
from apps.console.services import audit_record
from apps.console.shared_cache import shared_reading, shared_reading_forget
from apps.telemetry import selectors as telemetry
from lib import metrics
from lib.db import statement_timeout

logger = structlog.get_logger(__name__)

QUERY_TEXT_CHARS = 300
LONG_QUERIES_LIMIT = 50
LOCKS_LIMIT = 50
STATEMENTS_LIMIT = 20
ENABLE_PG_STAT_STATEMENTS = (
    "Add pg_stat_statements to shared_preload_libraries in postgresql.conf (ALTER SYSTEM SET "
    "shared_preload_libraries = 'pg_stat_statements'), restart PostgreSQL, then run "
    "CREATE EXTENSION pg_stat_statements; in this database."
)
# Names Django gives the indexes it creates by itself: <table>_pkey, and <table>_<column>_<8 hex>[_like|_uniq].
AUTOMATIC_INDEX = re.compile(r"(_pkey|_[0-9a-f]{8}(_like|_uniq)?)$")


# --- the page --------------------------------------------------------------------------


def database_page() -> dict[str, Any]:
    """Everything /ops/database shows. Reads Redis (snapshots, shared readings) and, at most once per
    cache period for the whole cluster, PostgreSQL (bounded statements)."""
    overview = telemetry.console_overview()
    activity = database_activity()
    return {
        "overview": overview,
        "long_query_seconds": settings.CONSOLE_LONG_QUERY_SECONDS,
        **database_pools(server=activity.get("server") or {}),
        "activity": activity,
        "stats": database_stats(),
    }


def database_pools(*, server: dict[str, Any]) -> dict[str, Any]:
    """Each live process's pool (from its snapshot) and their sum against the connection budget."""
    try:
        snapshots = telemetry.process_snapshots()
    except Exception as exc:  # the snapshots are in Redis; a failed read shows as unknown, never a 500
        logger.warning("console_snapshots_unavailable", error_class=type(exc).__name__)
        snapshots = None
    pools = [_pool_row(s) for s in snapshots or [] if s.get("pool")]
    pool_max_sum = sum(p["max"] for p in pools) if snapshots is not None else None
    web_max = max((p["max"] for p in pools if p["kind"] == "web"), default=settings.DB_POOL_MAX_SIZE)
    # Behind PgBouncer the pools' connections are its clients; its own server pools are static config
    # (`manage.py connection_budget --pgbouncer` checks those against PostgreSQL).
    limits = (
        {"max_connections": settings.PGBOUNCER_MAX_CLIENT_CONN, "reserved": 0, "limit": "PgBouncer"}
        if settings.DB_PGBOUNCER
        else {"max_connections": server.get("max_connections"), "reserved": server.get("reserved")}
    )
    budget = budget_summary(pool_max_sum=pool_max_sum, web_pool_max=web_max, **limits)
    totals: dict[str, Any] = {
        k: sum(p[k] for p in pools)
        for k in ("size", "max", "in_use", "idle", "waiting", "timeouts", "lost", "checkouts")
    }
    # The cluster's p95 comes from every process's buckets added up, never from averaging their p95s.
    merged = metrics.histogram_merge(
        s["pool"].get("wait_histogram_recent") or [] for s in snapshots or [] if s.get("pool")
    )
    totals["p95_wait_ms"] = wait_p95(merged)
    return {"pools": pools if snapshots is not None else None, "pool_totals": totals, "budget": budget}


def _pool_row(snapshot: dict[str, Any]) -> dict[str, Any]:
    pool = snapshot["pool"]
    requests = pool.get("requests") or 0
    recent = pool.get("wait_histogram_recent")
    return {
        "process": snapshot["id"],
        "kind": snapshot["kind"],
        "host": snapshot["host"],
        "pid": snapshot["pid"],
        "size": pool["size"],
        "max": pool["max"],
        "in_use": pool["in_use"],
        "idle": pool["idle"],
        "waiting": pool["waiting"],
        # psycopg_pool counts waiting time, not its distribution: the mean wait per request over the window.
        "wait_ms": pool["wait_ms"],
        "mean_wait_ms": round(pool["wait_ms"] / requests, 2) if requests else None,
        # Each checkout's wait, timed by lib/postgresql/base.py: its p95 over the window (older processes send none).
        "p95_wait_ms": wait_p95(recent),
        "checkouts": int(metrics.histogram_count(recent)) if recent else 0,
        "timeouts": pool["timeouts"],
        "lost": pool.get("connections_lost", 0),
    }


def wait_p95(counts: list[float] | None) -> float | None:
    """The p95 of connection checkout waits in ms; None without checkouts.

    Inside the first bucket (under 1 ms, where almost every checkout from a pool with an idle
    connection lands) interpolation would invent a value, so the bucket's bound is reported: "at most 1 ms".
    """
    p95 = metrics.histogram_quantile(counts, 0.95) if counts else None
    if p95 is None:
        return None
    return round(max(p95, metrics.LATENCY_BUCKETS_MS[0]), 1)


# --- activity --------------------------------------------------------------------------


def database_activity() -> dict[str, Any]:
    """Connections, long-running queries and locks, shared for CONSOLE_DB_ACTIVITY_CACHE seconds."""
    return shared_reading("db-activity", ttl=settings.CONSOLE_DB_ACTIVITY_CACHE, compute=database_activity_read)


def database_activity_read() -> dict[str, Any]:
    """Four bounded statements (CONSOLE_DB_ACTIVITY_TIMEOUT each); a failed one leaves its section None."""
    errors: dict[str, str] = {}
    timeout = settings.CONSOLE_DB_ACTIVITY_TIMEOUT
    return {
        "server": _section("server", _server_read, timeout, errors),
        "connections": _section("connections", _connections_read, timeout, errors),
        "long_queries": _section("long_queries", _long_queries_read, timeout, errors),
        "locks": _section("locks", _locks_read, timeout, errors),
        "errors": errors,
    }


def _section(name: str, read: Callable[[Any], Any], timeout_ms: int, errors: dict[str, str]) -> Any:
    """One statement block under its own statement timeout; its failure is noted, never raised."""
    try:
        with statement_timeout(timeout_ms), connection.cursor() as cursor:
            return read(cursor)
    except DatabaseError as exc:
        cause = type(exc.__cause__ or exc).__name__
        errors[name] = f"timed out after {timeout_ms} ms" if cause == "QueryCanceled" else f"failed ({cause})"
        logger.warning("console_database_read_failed", section=name, error_class=cause)
        return None


def _fresh(cursor: Any) -> None:
    """PostgreSQL keeps one snapshot of pg_stat_activity per transaction: drop it, so a reading made
    inside a longer transaction (a caller's, a test's) sees the backends as they are now."""
    cursor.execute("SELECT pg_stat_clear_snapshot()")


def _server_read(cursor: Any) -> dict[str, Any]:
    _fresh(cursor)
    cursor.execute(
        "SELECT current_setting('max_connections')::int, current_setting('superuser_reserved_connections')::int"
        " + coalesce(nullif(current_setting('reserved_connections', true), ''), '0')::int,"
        " (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'),"
        " current_setting('server_version')"
    )
    max_connections, reserved, open_now, version = cursor.fetchone()
    return {"max_connections": max_connections, "reserved": reserved, "open": open_now, "version": version}


def _connections_read(cursor: Any) -> list[dict[str, Any]]:
    """pg_stat_activity by application_name x state; idle-in-transaction ones carry their oldest age."""
    _fresh(cursor)
    cursor.execute(
        "SELECT coalesce(application_name, ''), coalesce(state, ''), count(*),"
        " max(extract(epoch FROM clock_timestamp() - state_change)) FILTER (WHERE state LIKE 'idle in transaction%')"
        " FROM pg_stat_activity WHERE backend_type = 'client backend' GROUP BY 1, 2 ORDER BY 1, 2"
    )
    return [
        {
            "application_name": app,
            "state": state,
            "count": count,
            "idle_in_transaction": state.startswith("idle in transaction"),
            "oldest_idle_s": None if oldest is None else round(float(oldest), 1),
        }
        for app, state, count, oldest in cursor.fetchall()
    ]


_ACTIVITY_COLUMNS = (
    "pid, coalesce(application_name, ''), coalesce(state, ''), backend_start,"
    " extract(epoch FROM clock_timestamp() - CASE WHEN state = 'active' THEN query_start ELSE state_change END),"
    " wait_event_type, wait_event, left(query, %s), datname = current_database()"
)


def _activity_row(row: tuple[Any, ...]) -> dict[str, Any]:
    pid, app, state, backend_start, seconds, wait_type, wait_event, query, ours = row
    return {
        "pid": pid,
        "application_name": app,
        "state": state,
        "backend_start": backend_start.isoformat() if backend_start else None,
        "duration_s": None if seconds is None else round(float(seconds), 1),
        "wait_event": f"{wait_type}: {wait_event}" if wait_type else None,
        "query": query or "",
        "this_database": bool(ours),
    }


def _long_queries_read(cursor: Any) -> list[dict[str, Any]]:
    """Statements running, and transactions left open, longer than CONSOLE_LONG_QUERY_SECONDS (not this one)."""
    _fresh(cursor)
    cursor.execute(
        f"SELECT {_ACTIVITY_COLUMNS} FROM pg_stat_activity"
        " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
        " AND state IN ('active', 'idle in transaction', 'idle in transaction (aborted)')"
        " AND CASE WHEN state = 'active' THEN query_start ELSE state_change END"
        " < clock_timestamp() - make_interval(secs => %s)"
        " ORDER BY CASE WHEN state = 'active' THEN query_start ELSE state_change END LIMIT %s",
        [QUERY_TEXT_CHARS, settings.CONSOLE_LONG_QUERY_SECONDS, LONG_QUERIES_LIMIT],
    )
    return [_activity_row(row) for row in cursor.fetchall()]


def _locks_read(cursor: Any) -> list[dict[str, Any]]:
    """Each backend waiting on a lock, with the pids blocking it and what they run."""
    _fresh(cursor)
    cursor.execute(
        f"SELECT {_ACTIVITY_COLUMNS}, pg_blocking_pids(pid) FROM pg_stat_activity"
        " WHERE cardinality(pg_blocking_pids(pid)) > 0 ORDER BY query_start LIMIT %s",
        [QUERY_TEXT_CHARS, LOCKS_LIMIT],
    )
    blocked = [{**_activity_row(row[:-1]), "blocked_by": list(row[-1])} for row in cursor.fetchall()]
    blocker_pids = sorted({pid for row in blocked for pid in row["blocked_by"]})
    blockers: dict[int, dict[str, Any]] = {}
    if blocker_pids:
        cursor.execute(
            f"SELECT {_ACTIVITY_COLUMNS} FROM pg_stat_activity WHERE pid = ANY(%s)", [QUERY_TEXT_CHARS, blocker_pids]
        )
        blockers = {row[0]: _activity_row(row) for row in cursor.fetchall()}
    for row in blocked:
        row["blockers"] = [blockers.get(pid, {"pid": pid}) for pid in row["blocked_by"]]
    return blocked


# --- statistics ------------------------------------------------------------------------


def database_stats() -> dict[str, Any]:
    """Indexes, tables, cache hits, vacuum age, top statements: shared for CONSOLE_DB_STATS_CACHE seconds."""
    return shared_reading("db-stats", ttl=settings.CONSOLE_DB_STATS_CACHE, compute=database_stats_read)


def database_stats_read() -> dict[str, Any]:
    """Five bounded statements (CONSOLE_DB_STATS_TIMEOUT each); a failed one leaves its section None."""
    errors: dict[str, str] = {}
    timeout = settings.CONSOLE_DB_STATS_TIMEOUT
    return {
        "indexes": _section("indexes", _indexes_read, timeout, errors),
        "tables": _section("tables", _tables_read, timeout, errors),
        "database": _section("database", _database_read, timeout, errors),
        "statements": _section("statements", _statements_read, timeout, errors),
        "errors": errors,
    }


def our_tables() -> list[str]:
    """The tables of the project's models (Django's and ours), from the app registry. No query."""
    return sorted({m._meta.db_table for m in django_apps.get_models(include_auto_created=True) if m._meta.managed})


def declared_index_names() -> set[str]:
    """Index and unique-constraint names written in the models' Meta: the schema's own indexes. No query."""
    names: set[str] = set()
    for model in django_apps.get_models():
        names.update(index.name for index in model._meta.indexes if index.name)
        names.update(
            c.name for c in model._meta.constraints if getattr(c, "fields", None) or getattr(c, "expressions", None)
        )
    return names


def index_origin(name: str, *, declared: set[str]) -> str:
    """ "model" (named in a model's Meta), "automatic" (Django's own: keys, unique fields, foreign keys), else "not in code"."""
    if name in declared:
        return "model"
    return "automatic" if AUTOMATIC_INDEX.search(name) else "not in code"


def _indexes_read(cursor: Any) -> list[dict[str, Any]]:
    cursor.execute(
        "SELECT s.relname, s.indexrelname, s.idx_scan, s.idx_tup_read, pg_relation_size(s.indexrelid),"
        " i.indisvalid, i.indisunique, i.indisprimary"
        " FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid"
        " WHERE s.relname = ANY(%s) ORDER BY s.relname, s.indexrelname",
        [our_tables()],
    )
    declared = declared_index_names()
    return [
        {
            "table": table,
            "name": name,
            "scans": scans,
            "tuples_read": tuples,
            "size_bytes": size,
            "valid": valid,
            # An index nobody reads still costs every write; unique ones enforce a rule, so they stay.
            "unused": scans == 0 and not unique and not primary,
            "unique": unique,
            "origin": index_origin(name, declared=declared),
        }
        for table, name, scans, tuples, size, valid, unique, primary in cursor.fetchall()
    ]


def _tables_read(cursor: Any) -> list[dict[str, Any]]:
    """Sizes with the planner's row estimate (never COUNT(*)), cache hits, dead rows, vacuum times, xid age."""
    cursor.execute(
        "SELECT c.relname, greatest(c.reltuples, 0)::bigint, pg_total_relation_size(c.oid), pg_relation_size(c.oid),"
        " io.heap_blks_hit, io.heap_blks_read, st.n_dead_tup, st.last_autovacuum, st.last_vacuum, age(c.relfrozenxid)"
        " FROM pg_class c LEFT JOIN pg_stat_user_tables st ON st.relid = c.oid"
        " LEFT JOIN pg_statio_user_tables io ON io.relid = c.oid"
        " WHERE c.relkind IN ('r', 'p') AND c.relnamespace = 'public'::regnamespace AND c.relname = ANY(%s)"
        " ORDER BY pg_total_relation_size(c.oid) DESC",
        [our_tables()],
    )
    return [
        {
            "table": name,
            "estimated_rows": rows,
            "total_bytes": total,
            "table_bytes": heap,
            "cache_hit_ratio": _ratio(hit, read),
            "dead_rows": dead,
            "last_autovacuum": autovacuum.isoformat() if autovacuum else None,
            "last_vacuum": vacuum.isoformat() if vacuum else None,
            "xid_age": xid_age,
        }
        for name, rows, total, heap, hit, read, dead, autovacuum, vacuum, xid_age in cursor.fetchall()
    ]


def _database_read(cursor: Any) -> dict[str, Any]:
    """This database's cache hit ratio and transaction-id age against autovacuum's freeze limit."""
    cursor.execute(
        "SELECT d.blks_hit, d.blks_read, age(db.datfrozenxid), current_setting('autovacuum_freeze_max_age')::bigint,"
        " pg_database_size(current_database())"
        " FROM pg_stat_database d JOIN pg_database db ON db.oid = d.datid WHERE d.datname = current_database()"
    )
    hit, read, xid_age, freeze_max, size = cursor.fetchone()
    return {
        "cache_hit_ratio": _ratio(hit, read),
        "xid_age": xid_age,
        "freeze_max_age": freeze_max,
        "xid_age_ratio": round(xid_age / freeze_max, 4) if freeze_max else None,
        "size_bytes": size,
    }


def _statements_read(cursor: Any) -> dict[str, Any]:
    """Top statements by total time from pg_stat_statements, or how to enable it when it is not there."""
    cursor.execute(
        "SELECT (SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_statements'),"
        " 'pg_stat_statements' = ANY(string_to_array(replace(current_setting('shared_preload_libraries'), ' ', ''), ','))"
    )
    version, preloaded = cursor.fetchone()
    if version is None or not preloaded:
        missing = "the extension is not created" if preloaded else "it is not in shared_preload_libraries"
        return {"available": False, "reason": missing, "how_to_enable": ENABLE_PG_STAT_STATEMENTS, "top": []}
    cursor.execute(
        "SELECT left(query, %s), calls, total_exec_time, mean_exec_time, rows FROM pg_stat_statements"
        " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
        " ORDER BY total_exec_time DESC LIMIT %s",
        [QUERY_TEXT_CHARS, STATEMENTS_LIMIT],
    )
    return {
        "available": True,
        "reason": "",
        "how_to_enable": "",
        "top": [statement_row(row) for row in cursor.fetchall()],
    }


def statement_row(row: tuple[Any, ...]) -> dict[str, Any]:
    query, calls, total_ms, mean_ms, rows = row
    return {
        "query": query,
        "calls": calls,
        "total_ms": round(float(total_ms), 1),
        "mean_ms": round(float(mean_ms), 2),
        "rows": rows,
    }


def _ratio(hit: int | None, read: int | None) -> float | None:
    if hit is None or read is None or hit + read == 0:
        return None
    return round(hit / (hit + read), 4)


# --- actions ---------------------------------------------------------------------------

CANCEL, TERMINATE = "cancel", "terminate"


class BackendRefused(Exception):
    """The backend is not one the console may signal (gone, another database's, this very request's)."""


def backend_signal(*, actor: Any, pid: int, how: str, backend_start: str | None = None) -> dict[str, Any]:
    """Cancel a backend's statement (pg_cancel_backend) or end its session (pg_terminate_backend). Audited.

    Refused when the pid is not a client backend of this database, is this request's own, or (with
    `backend_start`) is no longer the session the operator saw: a pid reused by a new session is
    never signalled. Runs two statements under CONSOLE_DB_ACTIVITY_TIMEOUT, then one INSERT.
    """
    if how not in (CANCEL, TERMINATE):
        raise ValueError(f"how must be {CANCEL!r} or {TERMINATE!r}")
    action = f"database.{how}_backend"
    try:
        with statement_timeout(settings.CONSOLE_DB_ACTIVITY_TIMEOUT), connection.cursor() as cursor:
            backend = _backend_for_signal(cursor, pid=pid, backend_start=backend_start)
            function = "pg_cancel_backend" if how == CANCEL else "pg_terminate_backend"
            cursor.execute(f"SELECT {function}(%s)", [pid])
            signalled = bool(cursor.fetchone()[0])
    except BackendRefused as refusal:
        audit_record(actor=actor, action=action, target=f"pid {pid}", outcome=OperatorAction.Outcome.REFUSED,
                     detail={"reason": str(refusal)})  # fmt: skip
        return {"pid": pid, "action": how, "outcome": "refused", "message": str(refusal)}
    outcome = OperatorAction.Outcome.SUCCEEDED if signalled else OperatorAction.Outcome.FAILED
    audit_record(actor=actor, action=action, target=f"pid {pid} ({backend['application_name'] or 'no name'})",
                 outcome=outcome, detail=backend)  # fmt: skip
    shared_reading_forget("db-activity")
    verb = "cancelled its statement" if how == CANCEL else "terminated its session"
    message = f"pid {pid}: {verb}" if signalled else f"pid {pid}: PostgreSQL did not signal it (it may have ended)"
    return {"pid": pid, "action": how, "outcome": outcome, "message": message}


def _backend_for_signal(cursor: Any, *, pid: int, backend_start: str | None) -> dict[str, Any]:
    _fresh(cursor)
    cursor.execute(
        f"SELECT {_ACTIVITY_COLUMNS}, pid = pg_backend_pid() FROM pg_stat_activity"
        " WHERE pid = %s AND backend_type = 'client backend'",
        [QUERY_TEXT_CHARS, pid],
    )
    row = cursor.fetchone()
    if row is None:
        raise BackendRefused(f"no client backend with pid {pid}: it has ended")
    backend = _activity_row(row[:-1])
    if row[-1]:
        raise BackendRefused("that is this request's own connection")
    if not backend["this_database"]:
        raise BackendRefused(f"pid {pid} is connected to another database")
    if backend_start and backend["backend_start"] != backend_start:
        raise BackendRefused(f"pid {pid} is now another session (started {backend['backend_start']})")
    return backend


def backend_find(*, pid: int) -> dict[str, Any] | None:
    """The client backend `pid` as the activity shows it, for the confirmation page. One bounded statement."""
    try:
        with statement_timeout(settings.CONSOLE_DB_ACTIVITY_TIMEOUT), connection.cursor() as cursor:
            _fresh(cursor)
            cursor.execute(
                f"SELECT {_ACTIVITY_COLUMNS} FROM pg_stat_activity WHERE pid = %s AND backend_type = 'client backend'",
                [QUERY_TEXT_CHARS, pid],
            )
            row = cursor.fetchone()
    except DatabaseError:
        return None
    return None if row is None else _activity_row(row)
