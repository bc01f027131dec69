"""What the console's templates need beyond the overview itself: each tile's green / amber / red.

Tiles colour by simple, documented rules (docs/console.md#tiles); alerts, with their
"for" durations, are the telemetry's. Unknown numbers never turn a tile red.
"""

from __future__ import annotations

from typing import Any

# A tile's level: "ok" (green), "degraded" (amber), "down" (red), "unknown" (grey: nothing reported).
POOL_AMBER_RATIO = 0.8
WS_AMBER_RATIO = 0.9
HTTP_ERROR_AMBER, HTTP_ERROR_RED = 0.01, 0.05
QUEUE_AGE_AMBER_S, QUEUE_AGE_RED_S = 60.0, 300.0


def tile_levels(overview: dict[str, Any]) -> dict[str, str]:
    tiles = overview.get("tiles") or {}
    return {
        "http": _http(tiles.get("http")),
        "db_pool": _pool(tiles.get("db_pool")),
        "websockets": _websockets(tiles.get("websockets")),
        "queues": _queues(tiles.get("queues")),
        "dead_letters": _dead_letters(tiles.get("dead_letters")),
        "provider": _provider(tiles.get("provider")),
        "rate_limiter": _rate_limiter(tiles.get("rate_limiter")),
        "health": _health(overview.get("health")),
    }


def _http(tile: dict[str, Any] | None) -> str:
    rate = (tile or {}).get("error_rate")
    if rate is None:
        return "unknown"
    return "down" if rate > HTTP_ERROR_RED else "degraded" if rate > HTTP_ERROR_AMBER else "ok"


def _pool(tile: dict[str, Any] | None) -> str:
    if not tile or tile.get("in_use") is None or not tile.get("max"):
        return "unknown"
    if (tile.get("waiting") or 0) > 0 or (tile.get("timeouts") or 0) > 0:
        return "down"
    return "degraded" if tile["in_use"] > POOL_AMBER_RATIO * tile["max"] else "ok"


def _websockets(tile: dict[str, Any] | None) -> str:
    if not tile or tile.get("connections") is None or not tile.get("cap"):
        return "unknown"
    if tile["connections"] > WS_AMBER_RATIO * tile["cap"] or (tile.get("refused") or 0) > 0:
        return "degraded"
    return "ok"


def _queues(tile: list[dict[str, Any]] | None) -> str:
    if tile is None:
        return "unknown"
    oldest = max((q.get("oldest_age_s") or 0.0 for q in tile), default=0.0)
    return "down" if oldest > QUEUE_AGE_RED_S else "degraded" if oldest > QUEUE_AGE_AMBER_S else "ok"


def _dead_letters(tile: dict[str, Any] | None) -> str:
    if not tile or tile.get("new") is None:
        return "unknown"
    return "degraded" if tile["new"] > 0 else "ok"


def _provider(tile: dict[str, Any] | None) -> str:
    if not tile:
        return "unknown"
    state = tile.get("breaker_state")
    if state == "open":
        return "down"
    if state == "half-open" or (tile.get("errors") or 0) > 0:
        return "degraded"
    return "ok" if state is not None else "unknown"


def _rate_limiter(tile: dict[str, Any] | None) -> str:
    if not tile or tile.get("fail_open") is None:
        return "unknown"
    return "degraded" if tile["fail_open"] > 0 else "ok"


def _health(checks: list[dict[str, Any]] | None) -> str:
    if not checks:
        return "unknown"
    states = {check.get("state") for check in checks}
    return "down" if "down" in states else "degraded" if "degraded" in states else "ok"
