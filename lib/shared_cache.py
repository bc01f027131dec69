"""One computation per period for the whole cluster: a reading shared through Redis.

The first caller of a period claims the computation with SET NX; the others wait
up to `wait` seconds for its result, then compute themselves. So twenty open
dashboards cost what one does. A computation that raises caches nothing and
releases its claim. Redis out: every caller computes alone (still bounded by its
own timeouts). Every Redis call is bounded (lib/redis.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from lib.redis import redis_read, redis_write

POLL_SECONDS = 0.05


def shared_reading(
    key: str, *, ttl: float, wait: float, compute: Callable[[], dict[str, Any]], what: str
) -> dict[str, Any]:
    """The reading cached under `key`, or `compute()` stored there for `ttl` seconds. Talks to Redis (bounded)."""
    cached = _cached(key, what=what)
    if cached is not None:
        return cached
    claim_ms = int(max(ttl, wait * 2) * 1000)
    claimed = redis_read(
        lambda client: bool(client.set(f"{key}:computing", "1", nx=True, px=claim_ms)),
        default=True,
        what=f"{what}_claim",
    )
    if not claimed:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
            cached = _cached(key, what=what)
            if cached is not None:
                return cached
    try:
        reading = compute()
    except BaseException:
        if claimed:  # the next caller computes at once instead of waiting for a result that will not come
            redis_write(lambda client: client.delete(f"{key}:computing"), what=f"{what}_release")
        raise
    payload = json.dumps(reading, separators=(",", ":"), default=str)
    redis_write(lambda client: client.set(key, payload, px=int(ttl * 1000)), what=what)
    return reading


def shared_reading_forget(key: str, *, what: str) -> None:
    """Drop a cached reading (what it shows has changed), so the next caller computes afresh."""
    redis_write(lambda client: client.delete(key, f"{key}:computing"), what=f"{what}_forget")


def _cached(key: str, *, what: str) -> dict[str, Any] | None:
    raw = redis_read(lambda client: client.get(key), default=None, what=what)
    return json.loads(raw) if raw else None
