"""The fault-drills page's data (/ops/drills and its twin): one function for the page and the API."""

from __future__ import annotations

from typing import Any

from apps.drills.services import drill_list
from apps.telemetry import selectors as telemetry


def drills_reading() -> dict[str, Any]:
    """The drills and what the console shows now (the shared, cached overview). One MGET, and the overview's reads."""
    return {"overview": telemetry.console_overview(), "drills": drill_list()}
