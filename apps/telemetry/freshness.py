"""The latest sample's time in Redis: the key the console's slow parts are cached under.

The sampler records it after each sample (services.telemetry_sample); the console
caches the parts that only change with a sample (selectors.py) under it, so a new
sample replaces them; they live TELEMETRY_TOTALS_CACHE seconds at most (dead letters
arrive between samples, and beat may be down).
"""

from __future__ import annotations

import datetime

from django.conf import settings

from apps.telemetry.reporter import key
from lib.redis import redis_read, redis_write


def slow_parts_ttl() -> float:
    """Seconds a slow part may be shared without a new sample."""
    return settings.TELEMETRY_TOTALS_CACHE


def sample_marker() -> str:
    """The latest sample's time as the sampler recorded it ("none" without one). One bounded Redis read."""
    raw = redis_read(lambda client: client.get(key("sampled_at")), default=None, what="telemetry_sample_marker")
    return raw.decode() if isinstance(raw, bytes) else "none"


def sample_marker_set(*, sampled_at: datetime.datetime) -> None:
    """Record a new sample: the slow parts cached under the previous one are no longer read. One bounded write."""
    marker = f"{sampled_at.timestamp():.3f}"
    ttl_ms = int(2 * settings.TELEMETRY_SAMPLE_INTERVAL * 1000)  # outlives the wait for the next sample
    redis_write(lambda client: client.set(key("sampled_at"), marker, px=ttl_ms), what="telemetry_sample_marker")
