"""Fault drills never run in production: `manage.py check --deploy` fails while they are on."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, register


@register("security", deploy=True)
def fault_drills_check(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    if not settings.OPS_FAULT_DRILLS:
        return []
    return [
        Error(
            "OPS_FAULT_DRILLS is on: operators could break this deployment on purpose from /ops/drills.",
            hint="Unset OPS_FAULT_DRILLS (off by default); drills are for development and staging.",
            id="ops_console.E020",
        )
    ]
