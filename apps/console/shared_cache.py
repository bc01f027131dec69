"""A console page's data shared by every viewer for a moment (Redis), so twenty open tabs cost what one does.

Keys live under TELEMETRY_KEY_PREFIX:console:<page>:<generation>:<variant>. An operator
action bumps its page's generation, so the next read after it is fresh. Without Redis
every viewer computes for itself: the page still works.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.conf import settings

from lib.redis import redis_read, redis_write


def _key(*parts: object) -> str:
    return ":".join([settings.TELEMETRY_KEY_PREFIX, "console", *map(str, parts)])


def shared_page_data(*, page: str, variant: object, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """`compute()`'s result, cached for TELEMETRY_OVERVIEW_CACHE seconds per page and `variant` (e.g. its filters).

    Two Redis reads (generation, data) and, on a miss, one write; each bounded by the Redis timeouts.
    """
    digest = hashlib.blake2b(json.dumps(variant, sort_keys=True, default=str).encode(), digest_size=8).hexdigest()
    generation = redis_read(lambda c: c.get(_key(page, "generation")), default=None, what="console_page_generation")
    key = _key(page, generation.decode() if isinstance(generation, bytes) else "0", digest)
    raw = redis_read(lambda c: c.get(key), default=None, what="console_page_cache")
    if raw:
        return dict(json.loads(raw))
    data = compute()
    payload = json.dumps(data, default=str, separators=(",", ":"))
    ttl_ms = int(settings.TELEMETRY_OVERVIEW_CACHE * 1000)
    redis_write(lambda c: c.set(key, payload, px=ttl_ms), what="console_page_cache")
    return dict(json.loads(payload))  # the same shape a cached read gives


def shared_page_data_changed(*, page: str) -> None:
    """An action changed what `page` shows: its next read computes afresh. One bounded Redis write."""
    redis_write(lambda c: c.incr(_key(page, "generation")), what="console_page_generation")
