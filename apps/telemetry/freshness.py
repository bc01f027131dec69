"""The latest sample's time in Redis: the key the console's slow parts are cached under.

The sampler records it after each sample (services.telemetry_sample); the console
caches the parts that only change with a sample (selectors.py) under it, so a new
sample replaces them. Without a sampler (beat down) the marker expires and the
parts live SLOW_PARTS_TTL_SAMPLES sample intervals at most.
"""

from __future__ import annotations

import datetime

from django.conf import settings

from apps.telemetry.reporter import key
from lib.redis import redis_read, redis_write

# The slow parts live this many TELEMETRY_SAMPLE_INTERVALs when no new sample replaces them.
SLOW_PARTS_TTL_SAMPLES = 2


def slow_parts_ttl() -> float:
    """Seconds a slow part may be shared without a new sample."""
    return SLOW_PARTS_TTL_SAMPLES * settings.TELEMETRY_SAMPLE_INTERVAL


def sample_marker() -> str:
    """The latest sample's time as the sampler recorded it ("none" without one). One bounded Redis read."""
    raw = redis_read(lambda client: client.get(key("sampled_at")), default=None, what="telemetry_sample_marker")
    return raw.decode() if isinstance(raw, bytes) else "none"


def sample_marker_set(*, sampled_at: datetime.datetime) -> None:
    """Record a new sample: the slow parts cached under the previous one are no longer read. One bounded write."""
    marker = f"{sampled_at.timestamp():.3f}"
    ttl_ms = int(slow_parts_ttl() * 1000)
    redis_write(lambda client: client.set(key("sampled_at"), marker, px=ttl_ms), what="telemetry_sample_marker")
