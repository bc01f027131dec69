"""Green / amber / red of each tile and of the banner, from the same thresholds as the alert rules.

One meaning everywhere:
- down (red): a dependency is down: a health check says so (PostgreSQL, Redis, the
  broker, no worker, no beat, the provider's breaker open);
- degraded (amber): an alert rule's condition holds now (the very rule and
  threshold of rules.py, read from the ALERT_* settings, before its "for" has
  passed), its alert is firing, a check is degraded, requests wait for a DB
  connection, WebSocket handshakes are refused, new dead letters, or the rate
  limiter failed open;
- ok (green): none of that; unknown (grey): nothing was reported.
The banner's level is the worst of every tile's. Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

from apps.telemetry.rules import RULES, Rule

LEVEL_ORDER = {"unknown": -1, "ok": 0, "degraded": 1, "down": 2}
# The alert rules behind each tile: its colour and the alerts page agree.
TILE_RULES: dict[str, tuple[str, ...]] = {
    "http": ("http_5xx_rate", "http_p99"),
    "db_pool": ("db_pool_usage", "db_pool_timeouts"),
    "websockets": ("ws_connections",),
    "queues": ("queue_age",),
    "dead_letters": ("dead_letters_growing",),
    "provider": ("breaker_open",),
    "rate_limiter": (),
    "health": ("workers_missing", "beat_missing", "redis_down", "postgres_down"),
}
_RULES: dict[str, Rule] = {rule.name: rule for rule in RULES}


def rule_breaching_now(rule: Rule, series: dict[str, float | None]) -> bool:
    """The rule's condition on the current value (growth rules need history: never "now")."""
    value = series.get(rule.series)
    return rule.kind == "threshold" and value is not None and rule.compare(value, rule.threshold())


def breaching_rules(series: dict[str, float | None]) -> list[Rule]:
    return [rule for rule in RULES if rule_breaching_now(rule, series)]


def worst(levels: list[str]) -> str:
    return max(levels, key=LEVEL_ORDER.__getitem__, default="unknown")


def tile_levels(
    *, tiles: dict[str, Any], health: list[dict[str, Any]], alerts: list[dict[str, Any]], series: dict[str, Any]
) -> dict[str, str]:
    """Each tile's level (see the module docstring); `series` is overview_series() of the same overview."""
    firing = {alert["rule"] for alert in alerts}
    extra = {
        "http": _known(tiles["http"].get("error_rate")),
        "db_pool": _pool(tiles["db_pool"]),
        "websockets": _websockets(tiles["websockets"]),
        "queues": "ok" if tiles["queues"] else "unknown",
        "dead_letters": _any_positive(tiles["dead_letters"].get("new")),
        "provider": _provider(health),
        "rate_limiter": _any_positive(tiles["rate_limiter"].get("fail_open")),
        "health": worst([check["state"] for check in health]),
    }
    levels = {}
    for tile, base in extra.items():
        flagged = any(name in firing or rule_breaching_now(_RULES[name], series) for name in TILE_RULES[tile])
        levels[tile] = worst([base, "degraded"]) if flagged else base
    return levels


def _known(value: Any) -> str:
    return "unknown" if value is None else "ok"


def _any_positive(value: Any) -> str:
    return "unknown" if value is None else ("degraded" if value > 0 else "ok")


def _pool(tile: dict[str, Any]) -> str:
    if tile.get("in_use") is None:
        return "unknown"
    return "degraded" if (tile.get("waiting") or 0) > 0 or (tile.get("timeouts") or 0) > 0 else "ok"


def _websockets(tile: dict[str, Any]) -> str:
    if tile.get("connections") is None:
        return "unknown"
    return "degraded" if (tile.get("refused") or 0) > 0 else "ok"


def _provider(health: list[dict[str, Any]]) -> str:
    check = next((c for c in health if c["name"] == "provider"), None)
    return check["state"] if check else "unknown"
