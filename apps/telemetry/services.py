"""Telemetry writes: store a sample of the cluster, evaluate the alert rules on it, prune old samples.

`telemetry_sample` runs from beat every 30 s (telemetry.sample):
1. compute the overview afresh (the same reads as the console's, each bounded);
2. insert one row per series into telemetry_samples, and add each value to its rollup buckets;
3. read back each rule's series over its "for" window (one query) and evaluate the rules (rules.py);
4. open an alert row for each rule that starts firing, resolve the row of each that stopped;
5. after commit, hand each change to the webhook task (never sent from the sampler itself);
6. record the sample's time in Redis: the console's slow parts cached under the previous one are replaced;
7. prune samples and rollups past TELEMETRY_RETENTION_DAYS, one batch of each per run.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from apps.telemetry.aggregate import cluster_overview_build, overview_series, parts_read
from apps.telemetry.freshness import sample_marker_set
from apps.telemetry.models import Alert, AlertState, MetricSample
from apps.telemetry.rules import RULES, Point, Verdict, rule_evaluate
from lib.db import statement_timeout

logger = structlog.get_logger(__name__)

# Seconds per rollup bucket: 5 min serves the 24 h view, 35 min the 7 d view (≤ 300 points each).
ROLLUP_STEPS = (300, 2100)


@dataclass(frozen=True)
class AlertChange:
    alert_id: int
    rule: str
    state: str


def telemetry_sample(
    *, now: datetime.datetime | None = None, notify: Callable[[AlertChange], None] | None = None
) -> list[AlertChange]:
    """Steps 1-7 of the module docstring; returns the alerts that fired or resolved."""
    now = now or timezone.now()
    overview = cluster_overview_build(parts_read(), now=now)  # 1.
    series = overview_series(overview)
    with transaction.atomic():
        samples_store(series=series, sampled_at=now)  # 2.
        verdicts = [rule_evaluate(rule, points, now=now.timestamp()) for rule, points in _rule_history(now)]  # 3.
        changes = alerts_apply(verdicts=verdicts, now=now)  # 4.
        if notify is not None:
            for change in changes:
                transaction.on_commit(functools.partial(notify, change))  # 5.
    sample_marker_set(sampled_at=now)  # 6.
    samples_prune(now=now)  # 7.
    rollups_prune(now=now)
    return changes


def samples_store(*, series: dict[str, float | None], sampled_at: datetime.datetime) -> int:
    """One row per series, and each value added to its ROLLUP_STEPS buckets: two statements."""
    MetricSample.objects.bulk_create(
        [MetricSample(name=name, sampled_at=sampled_at, value=value) for name, value in series.items()]
    )
    rollups_add(series=series, sampled_at=sampled_at)
    return len(series)


def rollup_bucket(at: datetime.datetime, step: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(at.timestamp() // step * step, tz=datetime.UTC)


def rollups_add(*, series: dict[str, float | None], sampled_at: datetime.datetime) -> None:
    """Add one sample to its bucket of each step: one upsert (telemetry_rollups_step_name_bucket_uniq)."""
    names, values = list(series), list(series.values())
    steps = list(ROLLUP_STEPS)
    buckets = [rollup_bucket(sampled_at, step) for step in steps]
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO telemetry_rollups (step, name, bucket, total, count)"
            " SELECT b.step, s.name, b.bucket, coalesce(s.value, 0), (s.value IS NOT NULL)::int"
            " FROM unnest(%s::text[], %s::float8[]) AS s(name, value),"
            " unnest(%s::int[], %s::timestamptz[]) AS b(step, bucket)"
            " ON CONFLICT (step, name, bucket) DO UPDATE"
            " SET total = telemetry_rollups.total + excluded.total, count = telemetry_rollups.count + excluded.count",
            [names, values, steps, buckets],
        )


def rollups_rebuild(*, since: datetime.datetime, until: datetime.datetime) -> int:
    """Recompute every bucket overlapping [since, until) from the raw samples (bench seeding, repairs).

    Buckets are replaced, not added to, so a rebuild never counts a sample twice. Returns buckets written.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO telemetry_rollups (step, name, bucket, total, count)"
            " SELECT step, name, to_timestamp(floor(extract(epoch FROM sampled_at) / step) * step),"
            " coalesce(sum(value), 0), count(value)"
            " FROM telemetry_samples, unnest(%s::int[]) AS step"
            " WHERE sampled_at >= to_timestamp(floor(extract(epoch FROM %s::timestamptz) / step) * step)"
            " AND sampled_at < %s GROUP BY 1, 2, 3"
            " ON CONFLICT (step, name, bucket) DO UPDATE SET total = excluded.total, count = excluded.count",
            [list(ROLLUP_STEPS), since, until],
        )
        return cursor.rowcount


def _rule_history(now: datetime.datetime) -> list[tuple[Any, list[Point]]]:
    """Each rule with its series' points over its window: one query (telemetry_samples_name_sampled_idx)."""
    # The longest "for", plus one sample interval and a half.
    longest = max(rule.for_seconds() for rule in RULES) + 1.5 * settings.TELEMETRY_SAMPLE_INTERVAL
    names = sorted({rule.series for rule in RULES})
    since = now - datetime.timedelta(seconds=longest)
    with statement_timeout(settings.TELEMETRY_SQL_TIMEOUT):
        rows = MetricSample.objects.filter(name__in=names, sampled_at__gt=since, sampled_at__lte=now).values_list(
            "name", "sampled_at", "value"
        )
        points: dict[str, list[Point]] = {name: [] for name in names}
        for name, sampled_at, value in rows:
            points[name].append((sampled_at.timestamp(), value))
    return [(rule, points[rule.series]) for rule in RULES]


def alerts_apply(*, verdicts: list[Verdict], now: datetime.datetime) -> list[AlertChange]:
    """Open, update or resolve one alert row per rule (the firing row locked). Returns what changed."""
    firing = {a.rule: a for a in Alert.objects.select_for_update().filter(state=AlertState.FIRING)}
    changes = []
    for verdict in verdicts:
        open_alert = firing.get(verdict.rule)
        if verdict.firing and open_alert is None:
            since = datetime.datetime.fromtimestamp(verdict.since or now.timestamp(), tz=datetime.UTC)
            alert = Alert.objects.create(
                rule=verdict.rule,
                since=since,
                value=verdict.value,
                threshold=verdict.threshold,
                summary=verdict.summary,
            )
            changes.append(AlertChange(alert.id, verdict.rule, AlertState.FIRING))
            logger.warning("alert_firing", rule=verdict.rule, value=verdict.value, threshold=verdict.threshold)
        elif verdict.firing and open_alert is not None:
            Alert.objects.filter(id=open_alert.id).update(value=verdict.value, summary=verdict.summary, updated_at=now)
        elif open_alert is not None:
            Alert.objects.filter(id=open_alert.id).update(state=AlertState.RESOLVED, resolved_at=now, updated_at=now)
            changes.append(AlertChange(open_alert.id, verdict.rule, AlertState.RESOLVED))
            logger.info("alert_resolved", rule=verdict.rule)
    return changes


def samples_prune(*, now: datetime.datetime | None = None, batch: int | None = None) -> int:
    """Delete one batch of samples older than TELEMETRY_RETENTION_DAYS (BRIN on sampled_at); returns rows deleted."""
    cutoff = (now or timezone.now()) - datetime.timedelta(days=settings.TELEMETRY_RETENTION_DAYS)
    with statement_timeout(settings.DB_REPORT_STATEMENT_TIMEOUT), connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM telemetry_samples WHERE id IN"
            " (SELECT id FROM telemetry_samples WHERE sampled_at < %s LIMIT %s)",
            [cutoff, batch or settings.TELEMETRY_PRUNE_BATCH],
        )
        deleted = cursor.rowcount
    if deleted:
        logger.info("telemetry_samples_pruned", count=deleted, older_than=cutoff.isoformat())
    return deleted


def rollups_prune(*, now: datetime.datetime | None = None, batch: int | None = None) -> int:
    """Delete one batch of rollup buckets older than TELEMETRY_RETENTION_DAYS (BRIN on bucket); returns rows deleted."""
    cutoff = (now or timezone.now()) - datetime.timedelta(days=settings.TELEMETRY_RETENTION_DAYS)
    with statement_timeout(settings.DB_REPORT_STATEMENT_TIMEOUT), connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM telemetry_rollups WHERE id IN (SELECT id FROM telemetry_rollups WHERE bucket < %s LIMIT %s)",
            [cutoff, batch or settings.TELEMETRY_PRUNE_BATCH],
        )
        deleted = cursor.rowcount
    if deleted:
        logger.info("telemetry_rollups_pruned", count=deleted, older_than=cutoff.isoformat())
    return deleted


def alert_webhook_text(*, alert_id: int) -> str | None:
    """The Slack-style text for one alert's latest change; None when the alert is gone. One query."""
    alert = Alert.objects.filter(id=alert_id).first()
    if alert is None:
        return None
    if alert.state == AlertState.FIRING:
        return f":red_circle: FIRING {alert.rule}: {alert.summary} (since {alert.since:%Y-%m-%d %H:%M:%S} UTC)"
    return f":large_green_circle: RESOLVED {alert.rule}: {alert.summary}"
