from __future__ import annotations

from typing import Any

from django.conf import settings

from lib import metrics
from lib.http import OUTCOMES, http_client


def outbound_target_stats() -> list[dict[str, Any]]:
    """Per configured outbound target: breaker state, latency percentiles and calls by outcome.

    The breaker comes from shared storage (a Redis read per target, bounded by
    REDIS_WRITE_TIMEOUT); latency and counts are this process's own.
    """
    return [_target_stats(name) for name in sorted(settings.HTTP_TARGETS)]


def _target_stats(name: str) -> dict[str, Any]:
    client = http_client(name)
    breaker = client.breaker_status()
    latency = metrics.percentiles("http_call_ms", target=name)
    return {
        "name": name,
        "kind": client.config.kind,
        "breaker_state": breaker["state"],
        "breaker_failures": breaker["failures"],
        "breaker_fail_max": breaker["fail_max"],
        "breaker_storage": breaker["storage"],
        "latency_ms": {quantile: latency.get(quantile) for quantile in ("p50", "p95", "p99")},
        "calls": {outcome: metrics.counter_value("http_calls", target=name, outcome=outcome) for outcome in OUTCOMES},
    }
