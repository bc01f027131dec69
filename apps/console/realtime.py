"""The realtime page (/ops/realtime): WebSocket instances against their cap, who holds the most sockets,
why handshakes were refused, slow readers closed, event rates, heartbeats and draining instances.

Sources, each bounded and allowed to fail on its own (its part becomes unknown and `notes` says so):
- every process's telemetry snapshot (Redis: one ZRANGEBYSCORE and one MGET), the web ones
  with their sockets and every one with its event counters (workers publish events too);
- the realtime tracking keys (Redis: one ZRANGEBYSCORE and a pipeline of HGETALL): each
  instance's heartbeat and its top users;
- the top users' names (one query by primary key).
Shared by every viewer for a moment (apps/console/shared_cache.py).
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import DatabaseError

from apps.console.shared_cache import shared_page_data
from apps.realtime.selectors import realtime_connection_stats
from apps.telemetry import selectors as telemetry
from lib.db import statement_timeout
from lib.redis import REDIS_ERRORS

PAGE = "realtime"
TOP_USERS = 10
# Refusal reasons (apps/realtime: consumers, security) as the page groups them.
REFUSAL_GROUPS = {
    "over cap": ("instance_limit", "user_limit"),
    "origin": ("origin",),
    "auth": ("unauthenticated", "forbidden"),
    "draining": ("draining",),
    "Redis unavailable": ("redis_unavailable",),
}


def realtime_page() -> dict[str, Any]:
    """What /ops/realtime shows (shape in docs/console.md#realtime), and the summary bar's overview."""
    data = shared_page_data(page=PAGE, variant={}, compute=_page_data)
    return {"overview": telemetry.console_overview(), **data}


def _page_data() -> dict[str, Any]:
    notes: list[str] = []
    now = time.time()
    try:
        snapshots = telemetry.process_snapshots()
    except (*REDIS_ERRORS, ValueError) as exc:
        notes.append(f"process snapshots unavailable: {type(exc).__name__}")
        snapshots = None
    cluster = realtime_connection_stats(cluster="fresh")["cluster"]
    if cluster.get("source") == "unavailable":
        notes.append("realtime tracking keys unavailable (Redis)")
    tracked = {i["id"]: i for i in cluster.get("instances", [])}
    instances = _instances(snapshots or [], tracked, now) if snapshots is not None else []
    web = [i for i in instances if i["connections"] is not None]
    top = _top_users(cluster.get("top_users", []), notes)
    return {
        "generated_at": now,
        "limits": {
            "per_instance": settings.WS_MAX_CONNECTIONS_PER_INSTANCE,
            "per_user": settings.WS_MAX_CONNECTIONS_PER_USER,
            "heartbeat_interval_s": settings.WS_HEARTBEAT_INTERVAL,
            "tracking_ttl_s": settings.WS_TRACKING_TTL,
        },
        "totals": _totals(snapshots, web),
        "instances": instances,
        "draining": [i["instance_id"] or i["process"] for i in instances if i["draining"]],
        "top_users": top,
        "notes": notes,
    }


def _instances(snapshots: list[dict[str, Any]], tracked: dict[str, dict[str, Any]], now: float) -> list[dict[str, Any]]:
    rows = []
    seen = set()
    for snapshot in snapshots:
        ws = snapshot.get("ws")
        if snapshot["kind"] != "web" or not ws:
            continue
        instance_id = ws.get("instance_id")
        seen.add(instance_id)
        beat = tracked.get(instance_id) if instance_id else None
        per_s = (snapshot.get("realtime") or {}).get("per_s", {})
        refused = ws.get("refused_by_reason") or {}
        rows.append(_instance_row(
            process=snapshot["id"], instance_id=instance_id, connections=ws["connections"], cap=ws["cap"],
            draining=bool(ws.get("draining")), refused=_grouped(refused), slow_closes=ws.get("dropped"),
            delivered_per_s=per_s.get("delivered"), dropped_per_s=per_s.get("dropped"),
            report_age_s=round(max(0.0, now - snapshot["reported_at"]), 1),
            heartbeat_age_s=round(max(0.0, now - beat["heartbeat_at"]), 1) if beat else None,
        ))  # fmt: skip
    for instance_id, beat in tracked.items():  # tracked, but its process does not report telemetry
        if instance_id not in seen:
            rows.append(_instance_row(
                process=None, instance_id=instance_id, connections=beat["connections"],
                cap=settings.WS_MAX_CONNECTIONS_PER_INSTANCE, draining=beat["draining"], refused=None,
                slow_closes=None, delivered_per_s=None, dropped_per_s=None, report_age_s=None,
                heartbeat_age_s=round(max(0.0, now - beat["heartbeat_at"]), 1),
            ))  # fmt: skip
    return rows


def _instance_row(**row: Any) -> dict[str, Any]:
    return {**row, "usage": _ratio(row["connections"], row["cap"]), "level": _level(row)}


def _level(row: dict[str, Any]) -> str:
    """Red: its heartbeat is older than the tracking TTL (its sockets stop counting). Amber: over ALERT_WS_USAGE of its cap,
    draining, or a heartbeat late by more than two intervals."""
    age = row["heartbeat_age_s"]
    if age is not None and age > settings.WS_TRACKING_TTL:
        return "down"
    usage = _ratio(row["connections"], row["cap"])
    late = age is not None and age > 2 * settings.WS_HEARTBEAT_INTERVAL
    if row["draining"] or late or (usage is not None and usage > settings.ALERT_WS_USAGE):
        return "degraded"
    return "ok"


def _grouped(by_reason: dict[str, int]) -> dict[str, int]:
    grouped = {group: sum(by_reason.get(r, 0) for r in reasons) for group, reasons in REFUSAL_GROUPS.items()}
    known = {r for reasons in REFUSAL_GROUPS.values() for r in reasons}
    grouped["other"] = sum(n for r, n in by_reason.items() if r not in known)
    return grouped


def _totals(snapshots: list[dict[str, Any]] | None, web: list[dict[str, Any]]) -> dict[str, Any]:
    if snapshots is None:
        return {"connections": None, "cap": None, "refused": None, "slow_closes": None, "per_s": None}
    per_s: dict[str, float] = {}
    for snapshot in snapshots:  # every kind: workers publish events too
        for name, value in ((snapshot.get("realtime") or {}).get("per_s") or {}).items():
            per_s[name] = round(per_s.get(name, 0.0) + value, 3)
    refused: dict[str, int] = {}
    for row in web:
        for group, count in (row["refused"] or {}).items():
            refused[group] = refused.get(group, 0) + count
    return {
        "connections": sum(r["connections"] for r in web),
        "cap": sum(r["cap"] for r in web),
        "refused": refused,
        "slow_closes": sum(r["slow_closes"] or 0 for r in web),
        "per_s": per_s,
    }


def _top_users(top: list[dict[str, Any]], notes: list[str]) -> list[dict[str, Any]]:
    """The users holding the most sockets, with their names (one query under TELEMETRY_SQL_TIMEOUT)."""
    top = top[:TOP_USERS]
    names: dict[int, str] = {}
    if top:
        try:
            with statement_timeout(settings.TELEMETRY_SQL_TIMEOUT):
                users = get_user_model().objects.filter(pk__in=[u["user_id"] for u in top])
                names = dict(users.values_list("pk", "username"))
        except DatabaseError as exc:
            notes.append(f"user names unavailable: {type(exc).__name__}")
    cap = settings.WS_MAX_CONNECTIONS_PER_USER
    return [{**u, "username": names.get(u["user_id"]), "cap": cap, "at_cap": u["connections"] >= cap} for u in top]


def _ratio(part: Any, whole: Any) -> float | None:
    if not isinstance(part, int | float) or not isinstance(whole, int | float) or whole <= 0:
        return None
    return round(part / whole, 4)
