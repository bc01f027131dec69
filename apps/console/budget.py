"""The connection budget: every pool's maximum, added up, against what PostgreSQL accepts.

Each process that touches the database has its own pool of up to DB_POOL_MAX_SIZE
connections (docs/configuration.md, "Pool sizing"). The budget is the server's
max_connections minus its reserved connections; the pools' maxima must fit inside.
Behind PgBouncer (docs/pgbouncer.md) there are two budgets: the pools' maxima
against PgBouncer's max_client_conn, and PgBouncer's server pools against
PostgreSQL's. The database page reads it from the live processes; `manage.py
connection_budget` checks a rollout plan before it runs. Pure: no I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Plan:
    """A rollout: how many processes of each kind, and each kind's pool maximum."""

    web: int
    workers: int
    concurrency: int
    web_pool_max: int
    worker_pool_max: int
    beat: int = 1
    relays: int = 1
    others_pool_max: int = 0  # beat's and each relay's pool maximum; 0 means web_pool_max

    def lines(self) -> list[tuple[str, int, int]]:
        """(what, processes, pool max each) per kind: each Celery pool process has a pool of its own."""
        others = self.others_pool_max or self.web_pool_max
        return [
            ("web processes", self.web, self.web_pool_max),
            (f"worker pool processes ({self.workers} x concurrency {self.concurrency})",
             self.workers * self.concurrency, self.worker_pool_max),
            ("beat", self.beat, others),
            ("outbox relays", self.relays, others),
        ]  # fmt: skip

    def pool_max_sum(self) -> int:
        return sum(count * each for _, count, each in self.lines())


def budget_summary(
    *,
    pool_max_sum: int | None,
    max_connections: int | None,
    reserved: int | None,
    web_pool_max: int,
    limit: str = "PostgreSQL",
) -> dict[str, Any]:
    """Budget numbers and the headroom in words ("room for 3 more web processes").

    `limit` names what accepts the connections: PostgreSQL, or PgBouncer in front of it.
    """
    if None in (pool_max_sum, max_connections, reserved):
        return {
            "pool_max_sum": pool_max_sum,
            "max_connections": max_connections,
            "reserved": reserved,
            "available": None,
            "headroom": None,
            "room_for_web": None,
            "fits": None,
            "words": "unknown: the live pools or the server's limits could not be read",
            "limit": limit,
        }
    available = max_connections - reserved  # type: ignore[operator]  # all known here
    headroom = available - pool_max_sum  # type: ignore[operator]
    room = max(0, headroom) // max(1, web_pool_max)
    return {
        "pool_max_sum": pool_max_sum,
        "max_connections": max_connections,
        "reserved": reserved,
        "available": available,
        "headroom": headroom,
        "room_for_web": room,
        "fits": headroom >= 0,
        "words": _words(headroom, room, web_pool_max, limit),
        "limit": limit,
    }


def pgbouncer_plan_check(
    *, plan: Plan, pgbouncers: int, pool_size: int, max_client_conn: int, max_connections: int, reserved: int
) -> dict[str, Any]:
    """Whether `plan` fits behind `pgbouncers` PgBouncers: clients against max_client_conn (processes
    spread evenly over them), their server pools (one database, one user: one pool each) against PostgreSQL."""
    clients = plan_check(plan=plan, max_connections=pgbouncers * max_client_conn, reserved=0, limit="PgBouncer")
    servers = pgbouncers * pool_size
    available = max_connections - reserved
    server_fits = servers <= available
    server_words = (
        f"PgBouncer servers {pgbouncers} x pool {pool_size} = {servers} of {available} "
        f"(max_connections {max_connections} - reserved {reserved})"
        + ("" if server_fits else f": over by {servers - available}")
    )
    return {
        **clients,
        "client_fits": clients["fits"],
        "server_connections": servers,
        "server_available": available,
        "server_fits": server_fits,
        "server_words": server_words,
        "fits": bool(clients["fits"]) and server_fits,
    }


def _words(headroom: int, room: int, web_pool_max: int, limit: str) -> str:
    if headroom < 0:
        return f"over budget by {-headroom} connection{'s' if headroom != -1 else ''}: pools may open more than {limit} accepts"
    if room == 0:
        return f"no room for another web process ({headroom} connections left, a web process may open {web_pool_max})"
    return f"room for {room} more web process{'es' if room != 1 else ''} ({headroom} connections left)"


def plan_check(*, plan: Plan, max_connections: int, reserved: int, limit: str = "PostgreSQL") -> dict[str, Any]:
    """Whether `plan` fits the server's budget, with each kind's share."""
    summary = budget_summary(
        pool_max_sum=plan.pool_max_sum(),
        max_connections=max_connections,
        reserved=reserved,
        web_pool_max=plan.web_pool_max,
        limit=limit,
    )
    lines = [
        {"what": what, "processes": n, "pool_max": each, "connections": n * each} for what, n, each in plan.lines()
    ]
    return {**summary, "lines": lines}
