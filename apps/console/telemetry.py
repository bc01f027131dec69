"""The seam to the telemetry backbone: the console reads apps.telemetry.selectors through here only."""

from __future__ import annotations

from apps.telemetry.aggregate import snapshots_read
from apps.telemetry.selectors import alert_list, console_overview, metric_series

__all__ = ["alert_list", "console_overview", "metric_series", "snapshots_read"]
