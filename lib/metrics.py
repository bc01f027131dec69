"""In-process counters, latency samples and mergeable histograms.

Cheap enough for hot paths (a lock and a dict update). Each process keeps its
own numbers; apps/telemetry publishes them to Redis every few seconds and the
console merges every process's copy (histograms bucket by bucket).
"""

from __future__ import annotations

import bisect
import os
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable

_lock = threading.Lock()
_counters: Counter[tuple[str, tuple[tuple[str, str], ...]]] = Counter()
_samples: dict[tuple[str, tuple[tuple[str, str], ...]], deque[float]] = {}
SAMPLE_WINDOW = 512


def _key(name: str, labels: dict[str, object]) -> tuple[str, tuple[tuple[str, str], ...]]:
    return name, tuple(sorted((k, str(v)) for k, v in labels.items()))


def increment(name: str, amount: int = 1, **labels: object) -> None:
    with _lock:
        _counters[_key(name, labels)] += amount


def observe(name: str, value: float, **labels: object) -> None:
    """Record one latency (or size) sample; the last SAMPLE_WINDOW are kept."""
    key = _key(name, labels)
    with _lock:
        _samples.setdefault(key, deque(maxlen=SAMPLE_WINDOW)).append(value)


def counter_items(name: str) -> list[tuple[tuple[tuple[str, str], ...], int]]:
    """(labels, count) of every counter named exactly `name`."""
    with _lock:
        return [(labels, count) for (n, labels), count in _counters.items() if n == name]


def counter_value(name: str, **labels: object) -> int:
    with _lock:
        return _counters[_key(name, labels)]


def counters(prefix: str = "") -> dict[str, int]:
    """Counters whose name starts with prefix, as 'name{label=value,...}' -> count."""
    with _lock:
        items = list(_counters.items())
    return {_render(name, labels): count for (name, labels), count in items if name.startswith(prefix)}


def percentiles(name: str, quantiles: Iterable[float] = (0.5, 0.95, 0.99), **labels: object) -> dict[str, float]:
    with _lock:
        values = sorted(_samples.get(_key(name, labels), ()))
    if not values:
        return {}
    return {f"p{round(q * 100)}": values[min(len(values) - 1, int(q * len(values)))] for q in quantiles}


def reset() -> None:
    """Forget everything (tests)."""
    with _lock:
        _counters.clear()
        _samples.clear()
        _histograms.clear()
        _gauges.clear()


def _render(name: str, labels: tuple[tuple[str, str], ...]) -> str:
    if not labels:
        return name
    return name + "{" + ",".join(f"{k}={v}" for k, v in labels) + "}"


# --- Mergeable histograms ---------------------------------------------------------
#
# Fixed bucket bounds (milliseconds), the same in every process, so two processes'
# counts add bucket by bucket and a cluster percentile comes from the merged
# counts: averaging each process's p95 would be wrong.
LATENCY_BUCKETS_MS: tuple[float, ...] = (
    1, 2.5, 5, 10, 25, 50, 75, 100, 150, 250, 400, 600, 1000, 1500, 2500, 5000, 10000, 30000, 60000,
)  # fmt: skip

_histograms: dict[tuple[str, tuple[tuple[str, str], ...]], list[float]] = {}


def observe_histogram(name: str, value: float, **labels: object) -> None:
    """Count `value` (ms) in its LATENCY_BUCKETS_MS bucket; counts are kept since the process started.

    The list holds one count per bound, one for "above the last bound", then the sum of values.
    """
    index = bisect.bisect_left(LATENCY_BUCKETS_MS, value)
    key = _key(name, labels)
    with _lock:
        counts = _histograms.get(key)
        if counts is None:
            counts = _histograms[key] = [0.0] * (len(LATENCY_BUCKETS_MS) + 2)
        counts[index] += 1
        counts[-1] += value


def histograms(name: str) -> dict[tuple[tuple[str, str], ...], list[float]]:
    """Copies of the histograms named `name`, by their labels: [count per bucket..., count above, sum]."""
    with _lock:
        return {labels: list(counts) for (n, labels), counts in _histograms.items() if n == name}


def histogram_merge(histograms: Iterable[list[float]]) -> list[float]:
    """Bucket-by-bucket sum of histograms with the same bounds (missing ones count as empty)."""
    merged = [0.0] * (len(LATENCY_BUCKETS_MS) + 2)
    for counts in histograms:
        for index, count in enumerate(counts[: len(merged)]):
            merged[index] += count
    return merged


def histogram_difference(later: list[float], earlier: list[float] | None) -> list[float]:
    """What was counted between two readings of one histogram (negative counts, a restart, read as zero)."""
    if earlier is None:
        return list(later)
    return [max(0.0, a - b) for a, b in zip(later, earlier, strict=False)]


def histogram_count(counts: list[float]) -> float:
    return sum(counts[:-1])


def histogram_quantile(counts: list[float], quantile: float) -> float | None:
    """The `quantile` (0..1) of a histogram, interpolated inside its bucket; None when empty.

    Values above the last bound report that bound (the histogram cannot say more).
    """
    total = histogram_count(counts)
    if total <= 0:
        return None
    rank = quantile * total
    seen = 0.0
    for index, count in enumerate(counts[:-1]):
        if count and seen + count >= rank:
            if index >= len(LATENCY_BUCKETS_MS):
                return float(LATENCY_BUCKETS_MS[-1])
            lower = LATENCY_BUCKETS_MS[index - 1] if index else 0.0
            upper = LATENCY_BUCKETS_MS[index]
            return float(lower + (upper - lower) * (rank - seen) / count)
        seen += count
    return float(LATENCY_BUCKETS_MS[-1])


def gauge_set(name: str, value: object, **labels: object) -> None:
    """Remember the latest value of something (e.g. the last outbound call's outcome) and when it was set."""
    with _lock:
        _gauges[_key(name, labels)] = (value, time.time())


def gauges(name: str) -> dict[tuple[tuple[str, str], ...], tuple[object, float]]:
    with _lock:
        return {labels: value for (n, labels), value in _gauges.items() if n == name}


_gauges: dict[tuple[str, tuple[tuple[str, str], ...]], tuple[object, float]] = {}


def _after_fork_in_child() -> None:
    """A forked child (a Celery pool process) starts with its own lock and its own, empty numbers.

    The parent's reporter thread may have held the lock at the fork, and the
    parent's counts are the parent's to report.
    """
    global _lock
    _lock = threading.Lock()
    reset()


os.register_at_fork(after_in_child=_after_fork_in_child)
