from __future__ import annotations

import pytest

from lib import metrics


@pytest.fixture(autouse=True)
def fresh_metrics():
    metrics.reset()
    yield
    metrics.reset()


def _histogram(*values: float) -> list[float]:
    metrics.reset()
    for value in values:
        metrics.observe_histogram("latency", value)
    return metrics.histograms("latency")[()]


def test_a_cluster_percentile_comes_from_merged_buckets_not_from_averaged_percentiles():
    fast = _histogram(*[5.0] * 90)  # one process: everything fast
    slow = _histogram(*[900.0] * 10)  # another: a few slow requests

    merged = metrics.histogram_merge([fast, slow])

    assert metrics.histogram_count(merged) == 100
    assert 600 <= metrics.histogram_quantile(merged, 0.95) <= 1000
    averaged_p95 = (metrics.histogram_quantile(fast, 0.95) + metrics.histogram_quantile(slow, 0.95)) / 2
    assert averaged_p95 < metrics.histogram_quantile(merged, 0.95)


def test_an_empty_histogram_has_no_percentile():
    assert metrics.histogram_quantile(metrics.histogram_merge([]), 0.5) is None


def test_values_past_the_last_bound_report_the_last_bound():
    assert metrics.histogram_quantile(_histogram(120_000.0), 0.99) == metrics.LATENCY_BUCKETS_MS[-1]


def test_the_difference_of_two_readings_counts_what_came_between():
    earlier = _histogram(5.0)
    metrics.observe_histogram("latency", 5.0)
    metrics.observe_histogram("latency", 50.0)
    later = metrics.histograms("latency")[()]

    recent = metrics.histogram_difference(later, earlier)

    assert metrics.histogram_count(recent) == 2
    assert recent[-1] == pytest.approx(55.0)
