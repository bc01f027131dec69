"""The seam to the telemetry backbone: the console reads apps.telemetry.selectors through here only."""

from __future__ import annotations

from apps.telemetry.selectors import alert_list, console_overview, metric_series

__all__ = ["alert_list", "console_overview", "metric_series"]

# The realtime page reads every process's own snapshot (per-instance numbers the overview sums up).
from apps.telemetry.aggregate import snapshots_read

__all__ += ["snapshots_read"]
