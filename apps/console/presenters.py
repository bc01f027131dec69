"""What the console's templates need beyond the overview itself: each tile's green / amber / red.

The levels are the telemetry's (apps/telemetry/levels.py): computed with the overview from
the same ALERT_* thresholds as the alert rules, so a tile, the banner and the alerts page
agree. Unknown numbers never turn a tile red.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any


def tile_levels(overview: dict[str, Any]) -> dict[str, str]:
    """Each tile's level ("ok", "degraded", "down"; "unknown" for a tile the overview does not rate)."""
    return defaultdict(lambda: "unknown", overview.get("levels") or {})
