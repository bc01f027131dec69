"""What the console reads: the overview, history series and the alert history (the seam in docs/console.md).

`console_overview` is computed at most once per TELEMETRY_OVERVIEW_CACHE
seconds for the whole cluster and shared through Redis, so twenty open
dashboards cost what one does; every read behind it is bounded and may fail on
its own (its numbers become None and `notes` says why).

Parts that move with the sampler are shared longer (docs/console.md, "What an open
dashboard costs"): the dead-letter totals and firing alerts, and the sparklines'
history, are cached under the latest sample's time (freshness.py), so a new sample
replaces them.
"""

from __future__ import annotations

import datetime
import hashlib
from typing import Any

import structlog
from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from apps.telemetry.aggregate import cluster_overview_build, parts_read, snapshots_read, totals_read
from apps.telemetry.freshness import sample_marker, slow_parts_ttl
from apps.telemetry.models import Alert
from apps.telemetry.reporter import key
from lib.db import statement_timeout
from lib.redis import redis_write
from lib.shared_cache import shared_reading

logger = structlog.get_logger(__name__)

# range -> (seconds of history, seconds per point, source): at most ~300 points each. "samples"
# averages the raw 30 s samples; a step of ROLLUP_STEPS reads its rollup buckets as they are.
RANGES: dict[str, tuple[int, int, str]] = {
    "15m": (15 * 60, 30, "samples"),
    "1h": (3600, 30, "samples"),
    "24h": (86_400, 300, "rollups"),
    "7d": (7 * 86_400, 2100, "rollups"),
}
MAX_SERIES = 50
# How long a viewer waits for another's computation to land in the cache before computing itself.
COMPUTE_WAIT_SECONDS = 1.0


def console_overview(*, now: datetime.datetime | None = None) -> dict[str, Any]:
    """The overview page's numbers (shape: docs/console.md, "JSON twin"), shared by every viewer for ~2 s.

    Talks to Redis (the shared copy; bounded) and, at most once per cache period
    for the whole cluster, to everything cluster_overview_build reads. With
    `now` given (tests) it computes afresh and caches nothing.
    """
    if now is not None:
        return cluster_overview_build(parts_read(), now=now)
    return shared_reading(
        key("overview"),
        ttl=settings.TELEMETRY_OVERVIEW_CACHE,
        wait=COMPUTE_WAIT_SECONDS,
        compute=lambda: cluster_overview_build(parts_read(totals=_totals_shared), now=timezone.now()),
        what="telemetry_overview_cache",
    )


def _totals_shared() -> dict[str, Any]:
    """The overview's slow part (aggregate.totals_read), one reading per sample for the cluster.

    Talks to Redis (the marker and the shared copy; bounded); PostgreSQL only when
    the reading is missing. A failed read raises DatabaseError and caches nothing.
    """
    return shared_reading(
        key("overview", "totals", sample_marker()),
        ttl=slow_parts_ttl(),
        wait=COMPUTE_WAIT_SECONDS,
        compute=totals_read,
        what="telemetry_totals_cache",
    )


def overview_forget() -> None:
    """Drop the shared overview and its slow parts, so the next reader computes everything afresh (benches, tests)."""
    client_keys = [key("overview"), key("overview", "computing")]
    redis_write(
        lambda client: client.delete(*client_keys, *client.scan_iter(match=key("overview", "*"), count=1000)),
        what="telemetry_overview_forget",
    )


def totals_forget() -> None:
    """An action changed the dead letters: the next overview reads the totals afresh. One bounded Redis write."""
    marker = sample_marker()
    redis_write(
        lambda client: client.delete(key("overview", "totals", marker), key("overview", "totals", marker, "computing")),
        what="telemetry_totals_forget",
    )


def metric_series_shared(*, names: list[str], range_: str) -> dict[str, list[tuple[float, float | None]]]:
    """metric_series, shared by every viewer until the next sample (the history changes only then).

    Talks to Redis (bounded); PostgreSQL (one statement) when the reading is missing.
    Raises ValueError as metric_series does. Points come back as [seconds, value] lists.
    """
    names = _series_names(names, range_)
    digest = hashlib.blake2b("\n".join(names).encode(), digest_size=8).hexdigest()
    return shared_reading(
        key("overview", "series", range_, digest, sample_marker()),
        ttl=slow_parts_ttl(),
        wait=COMPUTE_WAIT_SECONDS,
        compute=lambda: metric_series(names=names, range_=range_),
        what="telemetry_series_cache",
    )


def metric_series(
    *, names: list[str], range_: str, now: datetime.datetime | None = None
) -> dict[str, list[tuple[float, float | None]]]:
    """History of each named series over `range_` ("15m", "1h", "24h", "7d"), averaged into ≤ ~300 points.

    One statement under TELEMETRY_SQL_TIMEOUT: 15 m and 1 h average the raw samples
    (telemetry_samples_name_sampled_idx, ≤ 120 rows per series); 24 h and 7 d read the
    rollup buckets the sampler maintains (telemetry_rollups_step_name_bucket_uniq,
    ≤ 288 rows per series). Points are (unix seconds, value); a series the database
    could not give is empty. Raises ValueError for an unknown range or too many names.
    """
    names = _series_names(names, range_)
    seconds, step, source = RANGES[range_]
    end = now or timezone.now()
    start = end - datetime.timedelta(seconds=seconds)
    series: dict[str, list[tuple[float, float | None]]] = {name: [] for name in names}
    try:
        with statement_timeout(settings.TELEMETRY_SQL_TIMEOUT), connection.cursor() as cursor:
            if source == "rollups":
                cursor.execute(
                    "SELECT name, extract(epoch FROM bucket), total / nullif(count, 0) FROM telemetry_rollups"
                    " WHERE step = %s AND name = ANY(%s) AND bucket > %s AND bucket <= %s ORDER BY 1, 2",
                    [step, names, start, end],
                )
            else:
                cursor.execute(
                    "SELECT name, floor(extract(epoch FROM sampled_at) / %s) * %s AS point, avg(value)"
                    " FROM telemetry_samples WHERE name = ANY(%s) AND sampled_at > %s AND sampled_at <= %s"
                    " GROUP BY 1, 2 ORDER BY 1, 2",
                    [step, step, names, start, end],
                )
            rows = cursor.fetchall()
    except DatabaseError as exc:
        logger.warning("telemetry_series_unavailable", error_class=type(exc).__name__)
        return series
    for name, point, value in rows:
        series[name].append((float(point), None if value is None else float(value)))
    return series


def _series_names(names: list[str], range_: str) -> list[str]:
    """The names without repeats; ValueError for an unknown range or too many names."""
    if range_ not in RANGES:
        raise ValueError(f"range must be one of {', '.join(RANGES)}, got {range_!r}")
    names = list(dict.fromkeys(names))
    if len(names) > MAX_SERIES or any(not n or len(n) > 100 for n in names):
        raise ValueError(f"ask for 1 to {MAX_SERIES} series names of at most 100 characters")
    return names


def alert_list(*, limit: int = 100) -> list[dict[str, Any]]:
    """Alert episodes, newest first (telemetry_alerts_since_idx). One query under TELEMETRY_SQL_TIMEOUT."""
    with statement_timeout(settings.TELEMETRY_SQL_TIMEOUT):
        alerts = list(Alert.objects.order_by("-since", "-id")[: max(1, min(limit, 1000))])
    return [
        {
            "rule": alert.rule,
            "state": alert.state,
            "since": alert.since.isoformat(),
            "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
            "summary": alert.summary,
            "value": alert.value,
            "threshold": alert.threshold,
        }
        for alert in alerts
    ]


def process_snapshots() -> list[dict[str, Any]]:
    """Every live process's own latest snapshot, for pages that show per-process numbers. Reads Redis (bounded)."""
    return snapshots_read()
