"""Times the snapshots carry as Unix seconds, shown as UTC clock times."""

from __future__ import annotations

import datetime
from typing import Any

from django import template

register = template.Library()


@register.filter
def unixtime(value: Any) -> str:
    """`value` (Unix seconds) as "YYYY-MM-DD HH:MM:SS UTC"; "" when unknown (templates add their default)."""
    if value is None or value == "":
        return ""
    try:
        moment = datetime.datetime.fromtimestamp(float(value), tz=datetime.UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return ""
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
