"""The bounded HTTP client against a real sandbox provider, and the rule that nothing else calls out."""

from __future__ import annotations

import ast
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from lib import metrics
from lib.context import reset_correlation_id, set_correlation_id
from lib.http import TargetConfig, http_client
from tests.support.logs import logged_events

ROOT = Path(__file__).resolve().parent.parent.parent
HTTP_MODULE = ROOT / "lib" / "http.py"
CHARGE = {"amount": "12.50", "currency": "EUR", "reference": "order-1"}
MISSING = "/v1/charges/ch_missing"


@pytest.mark.slow
def test_a_call_to_a_healthy_provider_returns_its_answer(sandbox_provider, settings):
    target = sandbox_provider.target(settings)

    response = http_client(target).request("POST", "/v1/charges", json=CHARGE, idempotency_key="key-ok")

    assert response.status_code == 200
    assert response.json()["status"] == "succeeded"


@pytest.mark.slow
def test_a_call_carries_the_correlation_id(sandbox_provider, settings):
    target = sandbox_provider.target(settings)
    token = set_correlation_id("corr-abc-123")
    try:
        http_client(target).request("GET", MISSING)
    finally:
        reset_correlation_id(token)

    assert sandbox_provider.last_request()["headers"]["X-Correlation-ID"] == "corr-abc-123"


@pytest.mark.slow
def test_a_call_carries_its_idempotency_key(sandbox_provider, settings):
    target = sandbox_provider.target(settings)

    http_client(target).request("POST", "/v1/charges", json=CHARGE, idempotency_key="key-header")

    assert sandbox_provider.last_request()["headers"]["Idempotency-Key"] == "key-header"


@pytest.mark.slow
def test_a_client_error_is_returned_not_raised(sandbox_provider, settings):
    target = sandbox_provider.target(settings)

    response = http_client(target).request("GET", MISSING)

    assert response.status_code == 404


@pytest.mark.slow
def test_client_errors_do_not_count_against_the_breaker(sandbox_provider, settings):
    target = sandbox_provider.target(settings, breaker_fail_max=1)

    for _ in range(3):
        http_client(target).request("GET", MISSING)

    assert http_client(target).breaker_status()["state"] == "closed"
    assert sandbox_provider.requests_to("GET", MISSING) == 3


@pytest.mark.slow
def test_each_call_is_logged_with_its_path_but_no_query_headers_or_body(sandbox_provider, settings, caplog):
    target = sandbox_provider.target(settings)

    with caplog.at_level(logging.INFO, logger="lib.http"):
        http_client(target).request(
            "POST",
            "/v1/charges?token=query-secret",
            json={**CHARGE, "card_number": "4242424242424242"},
            headers={"Authorization": "Bearer header-secret"},
            idempotency_key="key-log",
        )

    [event] = logged_events(caplog, "http_call")
    assert {key: event[key] for key in ("target", "method", "path", "status", "attempt", "outcome")} == {
        "target": target,
        "method": "POST",
        "path": "/v1/charges",
        "status": 200,
        "attempt": 1,
        "outcome": "ok",
    }
    assert event["duration_ms"] >= 0
    for secret in ("query-secret", "4242424242424242", "header-secret", "key-log"):
        assert secret not in caplog.text


@pytest.mark.slow
def test_each_call_is_counted_and_timed_per_target(sandbox_provider, settings):
    target = sandbox_provider.target(settings)

    http_client(target).request("GET", MISSING)

    assert metrics.counter_value("http_calls", target=target, outcome="client_error") == 1
    assert set(metrics.percentiles("http_call_ms", target=target)) == {"p50", "p95", "p99"}


@pytest.mark.slow
def test_calls_to_one_target_run_concurrently(sandbox_provider, settings):
    target = sandbox_provider.target(settings)
    sandbox_provider.set_mode("slow", delay_ms=400)
    started = time.monotonic()

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(lambda _: http_client(target).request("GET", MISSING).status_code, range(4)))

    assert statuses == [404] * 4
    assert time.monotonic() - started < 2 * 0.4  # serialised, they would take 4 * 0.4 s


def test_an_unknown_target_is_a_configuration_error():
    with pytest.raises(ImproperlyConfigured, match="nowhere"):
        http_client("nowhere")


@pytest.mark.parametrize(("kind", "read_timeout"), [("internal", 5.0), ("external", 10.0)])
def test_a_target_gets_defaults_by_kind(settings, kind, read_timeout):
    settings.HTTP_TARGETS = {"upstream": {"base_url": "http://127.0.0.1:9", "kind": kind}}

    config = TargetConfig.from_settings("upstream")

    assert (config.connect_timeout, config.read_timeout, config.retries) == (2.0, read_timeout, 2)
    assert (config.breaker_fail_max, config.breaker_reset_timeout) == (5, 30.0)


def test_a_target_with_a_misspelt_field_is_a_configuration_error(settings):
    settings.HTTP_TARGETS = {"upstream": {"base_url": "http://127.0.0.1:9", "kind": "internal", "read_timout": 1}}

    with pytest.raises(ImproperlyConfigured, match="read_timout"):
        TargetConfig.from_settings("upstream")


def test_the_payment_provider_reads_for_payment_timeout(settings):
    assert TargetConfig.from_settings("payment_provider").read_timeout == settings.PAYMENT_TIMEOUT / 1000


@pytest.mark.slow
def test_a_path_must_be_relative_to_the_target(sandbox_provider, settings):
    target = sandbox_provider.target(settings)

    with pytest.raises(ValueError, match="relative"):
        http_client(target).request("GET", "http://example.com/steal")


# --- Nothing else in apps/ or lib/ calls out ------------------------------------------

DIRECT_CALLS = {"get", "post", "put", "patch", "delete", "head", "options", "request", "Session"}
REQUESTS_MODULES = {"requests", "requests.api", "requests.sessions"}


def direct_requests_calls(source: str) -> list[int]:
    """Lines that call requests.<verb>(...) (under any alias) or import a verb from requests."""
    tree = ast.parse(source)
    aliases = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
        if alias.name == "requests"
    }
    return sorted(node.lineno for node in ast.walk(tree) if _calls_requests(node, aliases) or _imports_a_verb(node))


def _calls_requests(node: ast.AST, aliases: set[str]) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id in aliases
        and node.func.attr in DIRECT_CALLS
    )


def _imports_a_verb(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.ImportFrom)
        and node.module in REQUESTS_MODULES
        and any(alias.name in DIRECT_CALLS for alias in node.names)
    )


def test_nothing_in_apps_or_lib_calls_requests_directly():
    offenders = [
        f"{path.relative_to(ROOT)}:{line}"
        for package in ("apps", "lib")
        for path in sorted((ROOT / package).rglob("*.py"))
        if path != HTTP_MODULE
        for line in direct_requests_calls(path.read_text())
    ]

    assert offenders == [], "call out through lib.http.http_client(target).request(...)"


@pytest.mark.parametrize(
    "source",
    [
        "import requests\nrequests.post('http://x', timeout=1)\n",
        "import requests as r\nr.request('GET', 'http://x')\n",
        "import os\nfrom requests import get\n",
        "import requests\nrequests.Session()\n",
    ],
)
def test_the_scan_finds_a_direct_requests_call(source):
    assert direct_requests_calls(source) == [2]


def test_the_scan_ignores_requests_named_in_strings_and_exceptions():
    source = "import requests\n'requests.get(x)'\nexcept_types = (requests.Timeout,)\n"

    assert direct_requests_calls(source) == []
