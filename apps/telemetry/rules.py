"""Alert rules as data, and their evaluation as a pure function over samples.

A rule watches one series of the time-series table (a dotted tile key). A
"threshold" rule fires once its condition has held in every sample for its
"for" duration (like Prometheus' `for:`): `breaching_since` is the oldest
sample of the trailing run of breaching samples. A "growth" rule fires when the
series rose over its window. An unknown value (None) never breaches: a number
we could not read is not evidence of trouble (a dependency that is down has
its own rule).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from django.conf import settings

Point = tuple[float, float | None]  # (unix seconds, value)


@dataclass(frozen=True)
class Rule:
    name: str
    series: str
    kind: Literal["threshold", "growth"]
    # Compares the value with the threshold: breaching when compare(value, threshold) is true.
    compare: Callable[[float, float], bool]
    threshold: Callable[[], float]
    for_seconds: Callable[[], float]
    # str.format()ted with value and threshold.
    summary: str


@dataclass(frozen=True)
class Verdict:
    rule: str
    breaching: bool
    firing: bool
    value: float | None
    threshold: float
    since: float | None  # when the trailing breach began (unix seconds)
    summary: str


def _setting(name: str, scale: float = 1.0) -> Callable[[], float]:
    return lambda: float(getattr(settings, name)) * scale


def _zero() -> float:
    return 0.0


RULES: tuple[Rule, ...] = (
    Rule("db_pool_usage", "db_pool.usage", "threshold", operator.gt, _setting("ALERT_POOL_USAGE"),
         _setting("ALERT_POOL_USAGE_FOR"), "DB pool usage {value:.0%} above {threshold:.0%}"),
    Rule("db_pool_timeouts", "db_pool.timeouts", "threshold", operator.gt, _zero, _zero,
         "{value:.0f} requests timed out waiting for a DB connection"),
    Rule("http_5xx_rate", "http.error_rate", "threshold", operator.gt, _setting("ALERT_HTTP_5XX_RATE"),
         _setting("ALERT_HTTP_5XX_FOR"), "5xx rate {value:.1%} above {threshold:.1%}"),
    Rule("http_p99", "http.p99_ms", "threshold", operator.gt, _setting("ALERT_HTTP_P99_MS"),
         _setting("ALERT_HTTP_P99_FOR"), "p99 latency {value:.0f} ms above {threshold:.0f} ms"),
    Rule("ws_connections", "websockets.usage", "threshold", operator.gt, _setting("ALERT_WS_USAGE"),
         _setting("ALERT_WS_USAGE_FOR"), "WebSocket connections at {value:.0%} of the cap"),
    Rule("queue_age", "queues.oldest_age_s", "threshold", operator.gt, _setting("ALERT_QUEUE_AGE"),
         _setting("ALERT_QUEUE_AGE_FOR"), "oldest queued task waiting {value:.0f} s (limit {threshold:.0f} s)"),
    Rule("dead_letters_growing", "dead_letters.new", "growth", operator.gt, _zero,
         _setting("ALERT_DEAD_LETTERS_FOR"), "{value:.0f} new dead letters lately"),
    Rule("workers_missing", "workers.alive", "threshold", operator.lt, _setting("ALERT_MIN_WORKERS"), _zero,
         "{value:.0f} workers alive, expected at least {threshold:.0f}"),
    Rule("beat_missing", "beat.alive", "threshold", operator.lt, lambda: 1.0, _zero, "beat is not reporting"),
    Rule("breaker_open", "provider.breaker_open", "threshold", operator.ge, lambda: 1.0, _zero,
         "payment provider circuit breaker is open"),
    Rule("redis_down", "health.redis", "threshold", operator.ge, lambda: 2.0, _zero, "Redis is not ready"),
    Rule("postgres_down", "health.postgres", "threshold", operator.ge, lambda: 2.0, _zero, "PostgreSQL is not ready"),
)  # fmt: skip
RULE_NAMES = tuple(rule.name for rule in RULES)


def rule_evaluate(rule: Rule, points: Sequence[Point], *, now: float) -> Verdict:
    """Whether `rule` fires given its series' points (any order, up to `now`). Pure: no I/O, no settings writes."""
    ordered = sorted((p for p in points if p[0] <= now), key=lambda p: p[0])
    threshold, for_seconds = rule.threshold(), rule.for_seconds()
    latest = ordered[-1][1] if ordered else None
    if rule.kind == "growth":
        value, since = _growth(ordered, now=now, window=for_seconds)
        breaching = value is not None and rule.compare(value, threshold)
        return _verdict(rule, breaching, breaching, value, threshold, since if breaching else None)
    since = _breaching_since(rule, ordered, threshold)
    breaching = since is not None
    firing = breaching and since is not None and now - since >= for_seconds
    return _verdict(rule, breaching, firing, latest, threshold, since)


def _breaching_since(rule: Rule, ordered: Sequence[Point], threshold: float) -> float | None:
    since = None
    for timestamp, value in reversed(ordered):
        if value is None or not rule.compare(value, threshold):
            break
        since = timestamp
    return since


def _growth(ordered: Sequence[Point], *, now: float, window: float) -> tuple[float | None, float | None]:
    """How much the series rose from the last known value at or before now - window (or the oldest) to the latest."""
    known = [(t, v) for t, v in ordered if v is not None]
    if len(known) < 2:
        return None, None
    before = [p for p in known if p[0] <= now - window]
    start = before[-1] if before else known[0]
    return float(known[-1][1] or 0.0) - float(start[1] or 0.0), start[0]


def _verdict(
    rule: Rule, breaching: bool, firing: bool, value: float | None, threshold: float, since: float | None
) -> Verdict:
    summary = rule.summary.format(value=value or 0.0, threshold=threshold)
    return Verdict(rule.name, breaching, firing, value, threshold, since, summary)
