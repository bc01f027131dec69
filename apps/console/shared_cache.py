"""Console readings shared through Redis (lib/shared_cache.py), under the console's keys.

Pages with filters cache one reading per filter set
(`shared_page_data`); an operator action bumps its page's generation, so the next
read after it is fresh.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.conf import settings

from lib import shared_cache as shared
from lib.redis import redis_read, redis_write

WAIT_SECONDS = 0.5


def _key(*parts: str) -> str:
    return ":".join([settings.TELEMETRY_KEY_PREFIX, "console", *parts])


def shared_reading(name: str, *, ttl: float, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The console's reading `name`, shared for `ttl` seconds (lib/shared_cache.py). Talks to Redis (bounded)."""
    return shared.shared_reading(_key(name), ttl=ttl, wait=WAIT_SECONDS, compute=compute, what="console_reading_cache")


def shared_reading_forget(name: str) -> None:
    """Drop a cached reading (after an action changed what it shows), so the next view reads afresh."""
    shared.shared_reading_forget(_key(name), what="console_reading")


def shared_page_data(*, page: str, variant: object, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """`compute()`'s result for `page` and `variant` (e.g. its filters), shared for TELEMETRY_OVERVIEW_CACHE seconds.

    One more bounded Redis read than shared_reading (the page's generation).
    """
    digest = hashlib.blake2b(json.dumps(variant, sort_keys=True, default=str).encode(), digest_size=8).hexdigest()
    generation = redis_read(lambda c: c.get(_key(page, "generation")), default=None, what="console_page_generation")
    name = f"{page}:{generation.decode() if isinstance(generation, bytes) else '0'}:{digest}"
    reading = shared_reading(name, ttl=settings.TELEMETRY_OVERVIEW_CACHE, compute=compute)
    return dict(json.loads(json.dumps(reading, default=str)))  # the same shape a cached read gives


def shared_page_data_changed(*, page: str) -> None:
    """An action changed what `page` shows: its next read computes afresh. One bounded Redis write."""
    redis_write(lambda c: c.incr(_key(page, "generation")), what="console_page_generation")
