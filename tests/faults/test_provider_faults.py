"""A slow, hung, refusing or failing provider, a dead Redis and a spent deadline: every call stays bounded."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
import uuid

import pytest

from lib import breaker, metrics
from lib.context import reset_deadline, set_deadline
from lib.http import (
    BACKOFF_BASE_SECONDS,
    CircuitOpen,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
    http_client,
)
from tests.support.logs import logged_events
from tests.support.processes import ROOT, free_port
from tests.support.proxies import redis_proxy

CHARGE = {"amount": "12.50", "currency": "EUR", "reference": "order-1"}
MISSING = "/v1/charges/ch_missing"
MARGIN = 0.4  # seconds a bounded call may overrun its timeout on a busy machine
DEAD_REDIS = "unix:///nonexistent/ops-console-test-redis.sock"


def _elapsed(call) -> float:
    started = time.monotonic()
    call()
    return time.monotonic() - started


def _raises(error, call):
    def run():
        with pytest.raises(error):
            call()

    return run


# --- Timeouts -------------------------------------------------------------------


@pytest.mark.slow
def test_a_provider_slower_than_the_read_timeout_raises_upstream_timeout_in_time(sandbox_provider, settings):
    target = sandbox_provider.target(settings, read_timeout=0.3, retries=0)
    sandbox_provider.set_mode("slow", delay_ms=2000)

    elapsed = _elapsed(_raises(UpstreamTimeout, lambda: http_client(target).request("GET", MISSING)))

    assert elapsed < 0.3 + MARGIN


@pytest.mark.slow
def test_every_call_to_a_hanging_provider_returns_within_its_bound(sandbox_provider, settings):
    target = sandbox_provider.target(settings, read_timeout=0.2, retries=1, breaker_fail_max=100)
    sandbox_provider.set_mode("hang")
    bound = 2 * 0.2 + BACKOFF_BASE_SECONDS + MARGIN

    durations = [
        _elapsed(_raises(UpstreamTimeout, lambda: http_client(target).request("GET", MISSING))) for _ in range(3)
    ]

    assert max(durations) < bound
    assert sandbox_provider.requests_to("GET", MISSING) == 6


@pytest.mark.slow
def test_the_request_deadline_caps_the_timeout(sandbox_provider, settings):
    target = sandbox_provider.target(settings, read_timeout=5.0)
    sandbox_provider.set_mode("slow", delay_ms=2000)
    token = set_deadline(0.3)
    try:
        elapsed = _elapsed(_raises(UpstreamTimeout, lambda: http_client(target).request("GET", MISSING)))
    finally:
        reset_deadline(token)

    assert elapsed < 0.6


@pytest.mark.slow
def test_a_call_after_the_deadline_fails_without_reaching_the_provider(sandbox_provider, settings):
    target = sandbox_provider.target(settings)
    token = set_deadline(0)
    try:
        with pytest.raises(UpstreamTimeout, match="deadline"):
            http_client(target).request("GET", MISSING)
    finally:
        reset_deadline(token)

    assert sandbox_provider.requests_to("GET", MISSING) == 0


# --- Connection failures -------------------------------------------------------------


@pytest.mark.slow
def test_a_provider_that_resets_connections_raises_upstream_unavailable(sandbox_provider, settings):
    target = sandbox_provider.target(settings, retries=0)
    sandbox_provider.set_mode("refuse")

    with pytest.raises(UpstreamUnavailable) as error:
        http_client(target).request("GET", MISSING)

    assert type(error.value) is UpstreamUnavailable


def test_a_port_nobody_listens_on_raises_upstream_unavailable(settings):
    target = f"dead_{uuid.uuid4().hex[:12]}"
    settings.HTTP_TARGETS = {target: {"base_url": f"http://127.0.0.1:{free_port()}", "kind": "internal", "retries": 0}}

    with pytest.raises(UpstreamUnavailable):
        http_client(target).request("GET", MISSING)


# --- Retries --------------------------------------------------------------------------


@pytest.mark.slow
def test_a_get_answered_500_is_retried_then_raises_upstream_error(sandbox_provider, settings):
    target = sandbox_provider.target(settings, retries=2)
    sandbox_provider.set_mode("error")

    with pytest.raises(UpstreamError) as error:
        http_client(target).request("GET", MISSING)

    assert error.value.status == 500
    assert sandbox_provider.requests_to("GET", MISSING) == 3


@pytest.mark.slow
def test_a_post_without_an_idempotency_key_is_never_retried(sandbox_provider, settings):
    target = sandbox_provider.target(settings, retries=2)
    sandbox_provider.set_mode("error")

    with pytest.raises(UpstreamError):
        http_client(target).request("POST", "/v1/charges", json=CHARGE)

    assert sandbox_provider.requests_to("POST", "/v1/charges") == 1


@pytest.mark.slow
def test_a_post_with_an_idempotency_key_is_retried(sandbox_provider, settings):
    target = sandbox_provider.target(settings, retries=2)
    sandbox_provider.set_mode("error")

    with pytest.raises(UpstreamError):
        http_client(target).request("POST", "/v1/charges", json=CHARGE, idempotency_key="key-500")

    assert sandbox_provider.requests_to("POST", "/v1/charges") == 3


@pytest.mark.slow
def test_a_timed_out_charge_is_retried_with_its_key_and_charged_once(sandbox_provider, settings):
    target = sandbox_provider.target(settings, read_timeout=0.3, retries=2)
    sandbox_provider.set_mode("slow", delay_ms=1000, count=1)  # the first attempt charges, then answers too late

    response = http_client(target).request("POST", "/v1/charges", json=CHARGE, idempotency_key="key-slow")

    assert response.status_code == 200
    assert sandbox_provider.requests_to("POST", "/v1/charges") == 2
    assert sandbox_provider.charges_for("key-slow") == 1


# --- Circuit breaker -------------------------------------------------------------------


def _trip(sandbox_provider, target: str, failures: int) -> None:
    sandbox_provider.set_mode("error")
    for _ in range(failures):
        with pytest.raises(UpstreamError):
            http_client(target).request("GET", MISSING)


@pytest.mark.slow
def test_the_breaker_opens_after_fail_max_failures_and_stops_calling_the_provider(sandbox_provider, settings):
    target = sandbox_provider.target(settings, retries=0, breaker_fail_max=3)
    _trip(sandbox_provider, target, 3)

    with pytest.raises(CircuitOpen):
        http_client(target).request("GET", MISSING)

    assert sandbox_provider.requests_to("GET", MISSING) == 3


@pytest.mark.slow
def test_an_opening_breaker_is_logged_with_its_target(sandbox_provider, settings, caplog):
    target = sandbox_provider.target(settings, retries=0, breaker_fail_max=2)

    with caplog.at_level(logging.INFO, logger="lib.breaker"):
        _trip(sandbox_provider, target, 2)

    [event] = logged_events(caplog, "breaker_opened")
    assert event["target"] == target


SECOND_PROCESS = """
import json, sys
import django
django.setup()
from django.conf import settings
name, config, prefix = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
settings.HTTP_BREAKER_KEY_PREFIX = prefix
settings.HTTP_TARGETS = {name: config}
from lib.http import CircuitOpen, http_client
try:
    http_client(name).request("GET", "/v1/charges/ch_missing")
except CircuitOpen:
    print("CircuitOpen")
"""


@pytest.mark.slow
def test_a_second_process_sees_the_breaker_open(sandbox_provider, settings):
    target = sandbox_provider.target(settings, retries=0, breaker_fail_max=2)
    _trip(sandbox_provider, target, 2)
    config = json.dumps(settings.HTTP_TARGETS[target])
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "ops_console.settings", "REDIS_URL": settings.REDIS_URL}

    result = subprocess.run(
        [sys.executable, "-c", SECOND_PROCESS, target, config, settings.HTTP_BREAKER_KEY_PREFIX],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.stdout.strip() == "CircuitOpen", result.stderr
    assert sandbox_provider.requests_to("GET", MISSING) == 2


@pytest.mark.slow
def test_an_open_breaker_lets_a_trial_call_through_after_its_reset_timeout(sandbox_provider, settings):
    target = sandbox_provider.target(settings, retries=0, breaker_fail_max=1, breaker_reset_timeout=1)
    _trip(sandbox_provider, target, 1)
    sandbox_provider.set_mode("normal")
    time.sleep(1.1)  # pybreaker stores the opening time in whole seconds

    response = http_client(target).request("GET", MISSING)

    assert response.status_code == 404
    assert http_client(target).breaker_status()["state"] == "closed"


# --- Redis down --------------------------------------------------------------------------


@pytest.mark.slow
def test_with_redis_down_the_breaker_falls_back_to_closed_and_calls_go_through(sandbox_provider, settings):
    target = sandbox_provider.target(settings)
    settings.REDIS_URL = DEAD_REDIS

    response = http_client(target).request("GET", MISSING)

    assert response.status_code == 404
    assert http_client(target).breaker_status() == {
        "state": "closed",
        "failures": 0,
        "fail_max": 5,
        "storage": "memory",
    }


@pytest.mark.slow
def test_losing_redis_is_logged_and_counted_once(sandbox_provider, settings, caplog):
    target = sandbox_provider.target(settings)
    settings.REDIS_URL = DEAD_REDIS

    with caplog.at_level(logging.INFO, logger="lib.breaker"):
        for _ in range(3):
            http_client(target).request("GET", MISSING)

    assert [event["target"] for event in logged_events(caplog, "breaker_storage_degraded")] == [target]
    assert metrics.counter_value("breaker_storage_fallbacks", target=target) == 1


@pytest.mark.slow
def test_with_redis_down_the_breaker_still_opens_in_this_process(sandbox_provider, settings):
    target = sandbox_provider.target(settings, retries=0, breaker_fail_max=2)
    settings.REDIS_URL = DEAD_REDIS
    _trip(sandbox_provider, target, 2)

    with pytest.raises(CircuitOpen):
        http_client(target).request("GET", MISSING)


@pytest.mark.slow
def test_when_redis_comes_back_the_breaker_returns_to_shared_state_and_says_so_once(
    sandbox_provider, settings, monkeypatch, caplog
):
    monkeypatch.setattr(breaker, "STORAGE_RETRY_SECONDS", 0.05)
    with redis_proxy(settings.REDIS_URL) as proxy:
        settings.REDIS_URL = proxy.url
        client = http_client(sandbox_provider.target(settings))
        proxy.cut()
        client.request("GET", MISSING)
        assert client.breaker_status()["storage"] == "memory"
        proxy.restore()
        time.sleep(0.1)

        with caplog.at_level(logging.INFO, logger="lib.breaker"):
            for _ in range(3):
                client.request("GET", MISSING)

        assert client.breaker_status()["storage"] == "redis"
    assert len(logged_events(caplog, "breaker_storage_restored")) == 1
