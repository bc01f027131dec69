from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def drills_enabled(request: HttpRequest) -> dict[str, Any]:
    return {"drills_enabled": settings.OPS_FAULT_DRILLS}
