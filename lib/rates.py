"""Rates such as 120/m, as the settings and the limiters spell them.

Nothing here reads settings: settings.py validates its rates with this module
while it loads, and the rate limiters parse the same rates at run time.
"""

from __future__ import annotations

import re

from django.core.exceptions import ImproperlyConfigured

_RATE = re.compile(r"(?P<count>[1-9][0-9]*)/(?P<unit>[smhd])")
_RATE_PERIOD_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(value: str, *, name: str) -> tuple[int, int]:
    """'120/m' -> (120, 60): a positive count, a slash, one of s, m, h, d; nothing else."""
    match = _RATE.fullmatch(value)
    if match is None:
        raise ImproperlyConfigured(
            f"{name} must be a rate like 120/m (a positive count per s, m, h or d), got {value!r}"
        )
    return int(match["count"]), _RATE_PERIOD_SECONDS[match["unit"]]
