from __future__ import annotations

import pytest

from lib import metrics
from lib.postgresql.base import POOL_WAIT_HISTOGRAM
from tests.support.pools import HOLD_S, hold_then_wait, small_pool

pytestmark = pytest.mark.django_db(transaction=True)

DEFAULT = (("alias", "default"),)


def _waits() -> list[float]:
    return metrics.histograms(POOL_WAIT_HISTOGRAM).get(DEFAULT) or [0.0] * (len(metrics.LATENCY_BUCKETS_MS) + 2)


def test_a_checkout_waiting_for_the_only_connection_is_counted_with_its_wait():
    before = _waits()

    with small_pool(max_size=1, timeout=5):
        errors = hold_then_wait()

    waits = metrics.histogram_difference(_waits(), before)
    assert errors == []
    assert metrics.histogram_count(waits) == 2
    # One checkout took the idle pool's connection, the other waited for it to come back.
    assert metrics.histogram_quantile(waits, 1.0) >= HOLD_S * 1000 * 0.8
    assert waits[-1] >= HOLD_S * 1000 * 0.8


def test_a_checkout_that_gives_up_is_counted_with_the_time_it_waited():
    before = _waits()

    with small_pool(max_size=1, timeout=0.15):
        errors = hold_then_wait()

    waits = metrics.histogram_difference(_waits(), before)
    assert len(errors) == 1
    assert metrics.histogram_count(waits) == 2
    # Bucket sums: the waiter's 150 ms timeout, plus the holder's checkout.
    assert 150 <= waits[-1] < HOLD_S * 1000
