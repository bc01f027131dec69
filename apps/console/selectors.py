"""Reads of the console: the audit trail, and each page's data (the telemetry's selectors)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from apps.console.models import OperatorAction
from apps.telemetry import selectors as telemetry

# The overview's ranges: 15 min is live (sparklines grow with each frame), the others are history.
RANGES = ("15m", "1h", "24h", "7d")
DEFAULT_RANGE = "15m"
# The series behind the overview's sparklines (templates/console/_tiles.html), named as overview_series names them.
SPARKLINE_SERIES = [
    "http.rps",
    "http.error_rate",
    "http.p50_ms",
    "http.p95_ms",
    "http.p99_ms",
    "db_pool.in_use",
    "db_pool.waiting",
    "db_pool.wait_ms",
    "db_pool.timeouts",
    "postgres_connections.total",
    "postgres_connections.idle_in_transaction",
    "redis.clients",
    "redis.used_memory_bytes",
    "redis.ops_per_sec",
    "websockets.connections",
    "websockets.refused",
    "websockets.dropped",
    "queues.depth",
    "queues.oldest_age_s",
    "tasks.per_s",
    "tasks.succeeded",
    "tasks.failed",
    "tasks.retried",
    "dead_letters.new",
    "dead_letters.total",
    "provider.calls",
    "provider.errors",
    "provider.p95_ms",
    "rate_limiter.fail_open",
]
AUDIT_PAGE_SIZE = 200


def audit_list(*, limit: int = AUDIT_PAGE_SIZE) -> QuerySet[OperatorAction]:
    """The newest operator actions first (console_actions_created_idx). One query when evaluated."""
    return OperatorAction.objects.order_by("-created_at", "-id")[:limit]


def overview_page(*, range_: str) -> dict[str, Any]:
    """The overview and the history of its sparklines over `range_`: exactly what /ops/ shows.

    Both shared: the overview for ~2 s, the history until the next sample (apps/telemetry/selectors.py).
    """
    return {
        "range": range_,
        "overview": telemetry.console_overview(),
        "series": telemetry.metric_series_shared(names=SPARKLINE_SERIES, range_=range_),
    }


def alerts_page(*, limit: int = 100) -> dict[str, Any]:
    """The alert history, newest first, and the summary bar's overview: what /ops/alerts shows."""
    return {"overview": telemetry.console_overview(), "alerts": telemetry.alert_list(limit=limit)}


def audit_page(*, limit: int = AUDIT_PAGE_SIZE) -> dict[str, Any]:
    return {
        "overview": telemetry.console_overview(),
        "actions": [_action_row(action) for action in audit_list(limit=limit)],
    }


def _action_row(action: OperatorAction) -> dict[str, Any]:
    return {
        "id": action.pk,
        "at": action.created_at.isoformat(),
        "actor": action.actor_username or None,
        "action": action.action,
        "target": action.target,
        "outcome": action.outcome,
        "correlation_id": action.correlation_id or None,
        "detail": action.detail,
    }
