"""One computation per period for the whole cluster: console readings shared through Redis.

Like the overview's cache (apps/telemetry/selectors.py): the first viewer claims the
computation with SET NX, the others wait briefly for its result, so twenty open pages
cost what one does. Redis out: every viewer computes alone (still bounded by its own
statement timeouts). Pages with filters cache one reading per filter set
(`shared_page_data`); an operator action bumps its page's generation, so the next
read after it is fresh.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings

from lib.redis import redis_read, redis_write

WAIT_SECONDS = 0.5


def _key(*parts: str) -> str:
    return ":".join([settings.TELEMETRY_KEY_PREFIX, "console", *parts])


def shared_reading(name: str, *, ttl: float, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The cached reading `name`, or a fresh `compute()` stored for `ttl` seconds. Talks to Redis (bounded)."""
    cached = _cached(name)
    if cached is not None:
        return cached
    claimed = redis_read(
        lambda client: bool(client.set(_key(name, "computing"), "1", nx=True, px=int(max(ttl, 1.0) * 1000))),
        default=True,
        what="console_reading_claim",
    )
    if not claimed:
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            time.sleep(0.05)
            cached = _cached(name)
            if cached is not None:
                return cached
    reading = compute()
    payload = json.dumps(reading, separators=(",", ":"), default=str)
    redis_write(lambda client: client.set(_key(name), payload, px=int(ttl * 1000)), what="console_reading_cache")
    return reading


def shared_reading_forget(name: str) -> None:
    """Drop a cached reading (after an action changed what it shows), so the next view reads afresh."""
    redis_write(lambda client: client.delete(_key(name), _key(name, "computing")), what="console_reading_forget")


def _cached(name: str) -> dict[str, Any] | None:
    raw = redis_read(lambda client: client.get(_key(name)), default=None, what="console_reading_cache")
    return json.loads(raw) if raw else None


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
