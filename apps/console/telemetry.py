"""The seam to the telemetry backbone (apps/telemetry/selectors.py): the console reads through here only.

TEMPORARY: until the telemetry branch is merged, these stand-ins return the agreed
shape with every number unknown (None, rendered "—") and a banner saying so.
After the merge this module only re-exports apps.telemetry.selectors.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

RANGES = ("15m", "1h", "24h", "7d")


def console_overview(*, now: datetime | None = None) -> dict[str, Any]:
    moment = now or timezone.now()
    return {
        "generated_at": moment.isoformat(),
        "status": {"level": "degraded", "reasons": ["Telemetry is not reporting yet"]},
        "summary": {
            "http_rps": None,
            "http_5xx_rate": None,
            "http_p95_ms": None,
            "db_pool_in_use": None,
            "db_pool_max": None,
            "ws_connections": None,
            "ws_cap": None,
            "queue_depth": None,
            "queue_oldest_age_s": None,
            "dead_letters_new": None,
            "alerts_firing": None,
        },
        "processes": [],
        "tiles": {},
        "health": [],
        "alerts": [],
    }


def metric_series(*, names: list[str], range_: str, now: datetime | None = None) -> dict[str, list[tuple[float, Any]]]:
    if range_ not in RANGES:
        raise ValueError(f"range_ must be one of {', '.join(RANGES)}")
    return {name: [] for name in names}


def alert_list(*, limit: int = 100) -> list[dict[str, Any]]:
    return []
