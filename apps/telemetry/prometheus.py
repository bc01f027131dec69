"""One Prometheus exporter over every process's snapshot in Redis (no multiprocess directory).

Whichever web process is scraped reads every live process's snapshot, so each
process of the cluster appears once, labelled `process` (kind:host:pid), and
nothing is counted twice. Counters are totals since that process started
(Prometheus' rate() handles restarts). Cluster-wide numbers (queues, dead
letters, PostgreSQL connections, health, alerts) come from the shared overview.
Histograms use lib.metrics.LATENCY_BUCKETS_MS, exported in seconds.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from apps.telemetry.aggregate import HEALTH_LEVELS, snapshots_read
from apps.telemetry.selectors import console_overview
from lib import metrics
from lib.redis import REDIS_ERRORS


def _histogram(name: str, documentation: str, labels: list[str]) -> HistogramMetricFamily:
    return HistogramMetricFamily(name, documentation, labels=labels)


def _add_histogram(family: HistogramMetricFamily, values: list[str], counts: list[float] | None) -> None:
    if not counts:
        return
    cumulative, buckets = 0.0, []
    for bound, count in zip(metrics.LATENCY_BUCKETS_MS, counts, strict=False):
        cumulative += count
        buckets.append((f"{bound / 1000:g}", cumulative))
    buckets.append(("+Inf", metrics.histogram_count(counts)))
    family.add_metric(values, buckets, sum_value=counts[-1] / 1000)


class SnapshotCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        try:
            snapshots = snapshots_read()
        except (*REDIS_ERRORS, ValueError):
            snapshots = None
        up = GaugeMetricFamily("ops_telemetry_up", "1 when the process snapshots in Redis could be read.")
        up.add_metric([], 0.0 if snapshots is None else 1.0)
        yield up
        if snapshots is not None:
            yield from _process_metrics(snapshots)
        yield from _cluster_metrics(console_overview())


def _process_metrics(snapshots: list[dict[str, Any]]) -> Iterator[Metric]:
    info = GaugeMetricFamily("ops_process_info", "One per live process.", labels=["process", "kind", "host", "version"])
    age = GaugeMetricFamily(
        "ops_process_report_age_seconds", "Seconds since the process last reported.", labels=["process"]
    )
    requests = CounterMetricFamily("ops_http_requests", "HTTP answers by status class.", labels=["process", "status"])
    latency = _histogram("ops_http_request_duration_seconds", "HTTP request latency.", ["process"])
    pool = GaugeMetricFamily("ops_db_pool_connections", "Pooled connections by state.", labels=["process", "state"])
    pool_max = GaugeMetricFamily("ops_db_pool_max", "Pool max size (DB_POOL_MAX_SIZE).", labels=["process"])
    waiting = GaugeMetricFamily("ops_db_pool_waiting", "Requests waiting for a connection.", labels=["process"])
    timeouts = CounterMetricFamily("ops_db_pool_timeouts", "Requests that gave up waiting.", labels=["process"])
    wait = CounterMetricFamily("ops_db_pool_wait_seconds", "Time spent waiting for connections.", labels=["process"])
    tasks = CounterMetricFamily("ops_tasks", "Tasks finished, by outcome.", labels=["process", "task", "state"])
    runtime = _histogram("ops_task_duration_seconds", "Task runtime.", ["process", "task"])
    ws = GaugeMetricFamily("ops_ws_connections", "Open WebSocket connections.", labels=["process"])
    ws_cap = GaugeMetricFamily("ops_ws_cap", "WS_MAX_CONNECTIONS_PER_INSTANCE.", labels=["process"])
    refused = CounterMetricFamily("ops_ws_refused", "WebSocket handshakes refused.", labels=["process"])
    dropped = CounterMetricFamily("ops_ws_dropped", "Slow WebSocket clients dropped.", labels=["process"])
    calls = CounterMetricFamily(
        "ops_outbound_calls", "Outbound HTTP attempts.", labels=["process", "target", "outcome"]
    )
    call_latency = _histogram("ops_outbound_duration_seconds", "Outbound HTTP latency.", ["process", "target"])
    transitions = CounterMetricFamily(
        "ops_breaker_transitions", "Circuit breaker state changes seen.", labels=["process", "target", "state"]
    )
    redis_failures = CounterMetricFamily("ops_redis_failures", "Failed Redis calls.", labels=["process", "purpose"])
    fail_open = CounterMetricFamily(
        "ops_rate_limit_fail_open", "Requests let through, limiter down.", labels=["process"]
    )
    for s in snapshots:
        p = s["id"]
        info.add_metric([p, s["kind"], s["host"], s["version"]], 1.0)
        age.add_metric([p], max(0.0, time.time() - s["reported_at"]))
        if s.get("http"):
            for status, count in s["http"]["requests"].items():
                requests.add_metric([p, status], count)
            _add_histogram(latency, [p], s["http"]["latency"])
        if s.get("pool"):
            pool.add_metric([p, "in_use"], s["pool"]["in_use"])
            pool.add_metric([p, "idle"], s["pool"]["idle"])
            pool_max.add_metric([p], s["pool"]["max"])
            waiting.add_metric([p], s["pool"]["waiting"])
            timeouts.add_metric([p], s["pool"]["timeouts_total"])
            wait.add_metric([p], s["pool"]["wait_ms_total"] / 1000)
        for task, entry in (s.get("tasks") or {}).get("by_name", {}).items():
            for state in ("succeeded", "failed", "retried"):
                tasks.add_metric([p, task, state], entry.get(state, 0))
            _add_histogram(runtime, [p, task], entry.get("runtime"))
        if s.get("ws"):
            ws.add_metric([p], s["ws"]["connections"])
            ws_cap.add_metric([p], s["ws"]["cap"])
            refused.add_metric([p], s["ws"]["refused"])
            dropped.add_metric([p], s["ws"]["dropped"])
        for target, out in s.get("outbound", {}).items():
            for outcome, count in out["calls"].items():
                calls.add_metric([p, target, outcome], count)
            _add_histogram(call_latency, [p, target], out["latency"])
        for target, states in s.get("breaker_transitions", {}).items():
            for state, count in states.items():
                transitions.add_metric([p, target, state], count)
        for purpose, count in s.get("redis_failures", {}).items():
            redis_failures.add_metric([p, purpose], count)
        fail_open.add_metric([p], s["rate_limiter"]["fail_open"])
    yield from (info, age, requests, latency, pool, pool_max, waiting, timeouts, wait, tasks, runtime)
    yield from (ws, ws_cap, refused, dropped, calls, call_latency, transitions, redis_failures, fail_open)


def _cluster_metrics(overview: dict[str, Any]) -> Iterator[Metric]:
    tiles = overview["tiles"]
    depth = GaugeMetricFamily("ops_queue_depth", "Messages waiting per queue.", labels=["queue"])
    age = GaugeMetricFamily("ops_queue_oldest_age_seconds", "Age of the oldest waiting message.", labels=["queue"])
    for queue in tiles["queues"]:
        depth.add_metric([queue["name"]], queue["depth"])
        if queue["oldest_age_s"] is not None:
            age.add_metric([queue["name"]], queue["oldest_age_s"])
    letters = GaugeMetricFamily("ops_dead_letters", "Dead letters (new: awaiting an operator).", labels=["status"])
    for status in ("new", "total"):
        if tiles["dead_letters"][status] is not None:
            letters.add_metric([status], tiles["dead_letters"][status])
    pg = GaugeMetricFamily(
        "ops_pg_connections", "pg_stat_activity client backends.", labels=["application_name", "state"]
    )
    for row in tiles["postgres_connections"]:
        pg.add_metric([row["application_name"], row["state"]], row["count"])
    budget = tiles["db_pool"]["budget"]
    pg_max = GaugeMetricFamily("ops_pg_max_connections", "max_connections minus reserved connections.")
    if budget["limit"] == "PostgreSQL" and budget["max_connections"] is not None and budget["reserved"] is not None:
        pg_max.add_metric([], budget["max_connections"] - budget["reserved"])
    health = GaugeMetricFamily("ops_dependency_health", "0 ok, 1 degraded, 2 down.", labels=["dependency"])
    took = GaugeMetricFamily("ops_dependency_check_seconds", "Time the last check took.", labels=["dependency"])
    for check in overview["health"]:
        health.add_metric([check["name"]], HEALTH_LEVELS[check["state"]])
        took.add_metric([check["name"]], check["took_ms"] / 1000)
    breaker = GaugeMetricFamily("ops_breaker_open", "1 when the payment provider's breaker is open.")
    if tiles["provider"]["breaker_state"] is not None:
        breaker.add_metric([], float(tiles["provider"]["breaker_state"] == "open"))
    alerts = GaugeMetricFamily("ops_alerts_firing", "1 per firing alert rule.", labels=["rule"])
    for alert in overview["alerts"]:
        alerts.add_metric([alert["rule"]], 1.0)
    yield from (depth, age, letters, pg, pg_max, health, took, breaker, alerts)
