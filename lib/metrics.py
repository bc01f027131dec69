"""In-process counters and latency samples, read by the console's selectors.

Cheap enough for hot paths (a lock and a dict update). Each process keeps its
own numbers; the console aggregates what it can reach.
"""

from __future__ import annotations

import threading
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


def _render(name: str, labels: tuple[tuple[str, str], ...]) -> str:
    if not labels:
        return name
    return name + "{" + ",".join(f"{k}={v}" for k, v in labels) + "}"
