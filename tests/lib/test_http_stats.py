from __future__ import annotations

import pytest

from lib.http import UpstreamError, http_client
from lib.http_stats import outbound_target_stats

MISSING = "/v1/charges/ch_missing"


def _stats_for(target: str) -> dict:
    return next(row for row in outbound_target_stats() if row["name"] == target)


def test_outbound_target_stats_list_every_configured_target(settings):
    assert [row["name"] for row in outbound_target_stats()] == sorted(settings.HTTP_TARGETS)


@pytest.mark.slow
def test_outbound_target_stats_report_latency_and_calls_by_outcome(sandbox_provider, settings):
    target = sandbox_provider.target(settings)
    http_client(target).request("GET", MISSING)

    row = _stats_for(target)

    assert row["calls"]["client_error"] == 1
    assert row["calls"]["ok"] == 0
    assert row["latency_ms"]["p50"] is not None
    assert (row["breaker_state"], row["breaker_failures"], row["breaker_storage"]) == ("closed", 0, "redis")


@pytest.mark.slow
def test_outbound_target_stats_show_an_open_breaker_from_shared_storage(sandbox_provider, settings):
    target = sandbox_provider.target(settings, retries=0, breaker_fail_max=2)
    sandbox_provider.set_mode("error")
    for _ in range(2):
        with pytest.raises(UpstreamError):
            http_client(target).request("GET", MISSING)

    row = _stats_for(target)

    assert (row["breaker_state"], row["breaker_failures"]) == ("open", 2)
    assert row["calls"]["server_error"] == 2
