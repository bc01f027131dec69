"""The only way ops-console makes outbound HTTP calls (tests/lib/test_http.py enforces it).

Every call is bounded: a (connect, read) timeout capped by the request's
remaining deadline, retries only where repeating is safe, and a circuit breaker
per target shared by every process (lib/breaker.py). Failures are typed
so callers can tell a slow upstream from a dead or a broken one. Headers and
bodies are never logged: they may carry card data or tokens.

    response = http_client("payment_provider").request("POST", "/v1/charges", json=..., idempotency_key=key)
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from http.cookiejar import DefaultCookiePolicy
from typing import Any
from urllib.parse import urlsplit

import pybreaker
import requests
import structlog
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from requests.adapters import HTTPAdapter

from lib import metrics
from lib.breaker import SharedBreakerStorage, circuit_breaker
from lib.context import bounded_timeout, correlation_headers, remaining_seconds

logger = structlog.get_logger(__name__)

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
# 500 is included: retried only when repeating is safe (see _may_retry).
RETRY_STATUSES = frozenset({500, 502, 503, 504})
BACKOFF_BASE_SECONDS = 0.1
BACKOFF_CAP_SECONDS = 2.0
DEFAULT_READ_TIMEOUTS = {"internal": 5.0, "external": 10.0}
DEFAULTS: dict[str, Any] = {
    "connect_timeout": 2.0,
    "pool_maxsize": 10,
    "retries": 2,
    "breaker_fail_max": 5,
    "breaker_reset_timeout": 30.0,
}
OUTCOMES = ("ok", "client_error", "server_error", "timeout", "unavailable", "circuit_open", "error")


# --- Errors -------------------------------------------------------------------


class UpstreamFailure(Exception):
    """Base of the errors below; `target` names the configured upstream."""

    outcome = "error"

    def __init__(self, target: str, message: str) -> None:
        super().__init__(f"{target}: {message}")
        self.target = target


class UpstreamTimeout(UpstreamFailure):
    """No connection or no answer within the bound (or the request's deadline)."""

    outcome = "timeout"


class UpstreamUnavailable(UpstreamFailure):
    """Connection refused or reset, or the target's breaker is open."""

    outcome = "unavailable"


class CircuitOpen(UpstreamUnavailable):
    """The target's circuit breaker is open: the upstream was not called."""

    outcome = "circuit_open"


class UpstreamError(UpstreamFailure):
    """The upstream answered 5xx (after any retries)."""

    outcome = "server_error"

    def __init__(self, target: str, status: int) -> None:
        super().__init__(target, f"answered HTTP {status}")
        self.status = status


# --- Configuration ------------------------------------------------------------


@dataclass(frozen=True)
class TargetConfig:
    name: str
    base_url: str
    kind: str
    connect_timeout: float
    read_timeout: float
    pool_maxsize: int
    retries: int
    breaker_fail_max: int
    breaker_reset_timeout: float

    @classmethod
    def from_settings(cls, name: str) -> TargetConfig:
        """settings.HTTP_TARGETS[name] with the defaults filled in; ImproperlyConfigured if unusable."""
        targets = getattr(settings, "HTTP_TARGETS", {})
        if name not in targets:
            raise ImproperlyConfigured(f"HTTP target {name!r} is not in settings.HTTP_TARGETS ({', '.join(targets)})")
        raw = dict(targets[name])
        kind = raw.get("kind")
        if kind not in DEFAULT_READ_TIMEOUTS:
            raise ImproperlyConfigured(f"HTTP_TARGETS[{name!r}]['kind'] must be internal or external, got {kind!r}")
        if urlsplit(raw.get("base_url") or "").scheme not in ("http", "https"):
            raise ImproperlyConfigured(f"HTTP_TARGETS[{name!r}]['base_url'] must be an http(s) URL")
        unknown = set(raw) - {field.name for field in fields(cls)}
        if unknown:
            raise ImproperlyConfigured(f"HTTP_TARGETS[{name!r}] has unknown keys: {', '.join(sorted(unknown))}")
        return cls(name=name, **{**DEFAULTS, "read_timeout": DEFAULT_READ_TIMEOUTS[kind], **raw})


# --- Client -------------------------------------------------------------------


class BoundedHttpClient:
    """Calls one configured target. Thread-safe; http_client() keeps one per target per process."""

    def __init__(self, config: TargetConfig) -> None:
        self.config = config
        self.target = config.name
        self._session = _session(config.pool_maxsize)
        self._breaker_storage = SharedBreakerStorage.for_target(config.name)
        self._breaker = circuit_breaker(
            storage=self._breaker_storage,
            fail_max=config.breaker_fail_max,
            reset_timeout=config.breaker_reset_timeout,
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
        idempotency_key: str | None = None,
        timeout: tuple[float, float] | None = None,
        on_attempt: Callable[[dict[str, Any]], None] | None = None,
    ) -> requests.Response:
        """Send a request to the target, retrying where that is safe. Talks to the network.

        Returns every answer below 500, 4xx included. Raises UpstreamTimeout,
        UpstreamUnavailable (CircuitOpen when the breaker is open) or UpstreamError.
        `timeout` is (connect, read) in seconds; each is capped by the request's deadline.
        `on_attempt` is told each attempt: {attempt, status, outcome, duration_ms, breaker} (no I/O of its own).
        """
        method = method.upper()
        url = self._url(path)
        send_headers = {**(headers or {}), **correlation_headers()}
        if idempotency_key:
            send_headers["Idempotency-Key"] = idempotency_key
        attempts = 1 + self.config.retries if _may_retry(method, idempotency_key) else 1
        for attempt in range(1, attempts + 1):
            try:
                return self._attempt(method, url, json, send_headers, timeout, attempt, on_attempt)
            except UpstreamFailure as error:
                if attempt == attempts or not _worth_retrying(error) or not _backoff(attempt):
                    raise
        raise AssertionError("unreachable: the last attempt returns or raises")

    def breaker_status(self) -> dict[str, Any]:
        """The breaker as shared storage holds it. Reads Redis (bounded by REDIS_WRITE_TIMEOUT)."""
        storage = self._breaker_storage
        return {
            "state": storage.state,
            "failures": storage.counter,
            "fail_max": self.config.breaker_fail_max,
            "storage": storage.location,
        }

    def _url(self, path: str) -> str:
        if "://" in path or path.startswith("//"):
            raise ValueError(f"path must be relative to the target's base_url, got {path!r}")
        return f"{self.config.base_url.rstrip('/')}/{path.lstrip('/')}"

    def _attempt(
        self,
        method: str,
        url: str,
        json: Any,
        headers: dict[str, str],
        timeout: tuple[float, float] | None,
        attempt: int,
        on_attempt: Callable[[dict[str, Any]], None] | None = None,
    ) -> requests.Response:
        started = time.monotonic()
        status: int | None = None
        outcome = "error"
        breaker = None
        try:
            remaining = remaining_seconds()
            if remaining is not None and remaining <= 0:
                raise UpstreamTimeout(self.target, "the request's deadline passed before the call")
            bound = self._timeout(timeout)
            try:
                # Not breaker.call(): it holds a lock for the whole call, one request per target at a time.
                state = self._breaker.state  # read once: its name is the breaker state this attempt met
                breaker = state.name
                response = state.call(self._send, method, url, json, headers, bound)
            except pybreaker.CircuitBreakerError:
                raise CircuitOpen(self.target, "circuit breaker is open") from None
            status = response.status_code
            outcome = "ok" if status < 400 else "client_error"
            return response
        except UpstreamFailure as error:
            outcome = error.outcome
            status = getattr(error, "status", None)
            raise
        finally:
            duration_ms = self._record(method, url, status, outcome, attempt, started)
            if on_attempt is not None:
                on_attempt(
                    {"attempt": attempt, "status": status, "outcome": outcome, "duration_ms": duration_ms,
                     "breaker": breaker}
                )  # fmt: skip

    def _timeout(self, timeout: tuple[float, float] | None) -> tuple[float, float]:
        connect, read = timeout or (self.config.connect_timeout, self.config.read_timeout)
        return bounded_timeout(connect), bounded_timeout(read)

    def _send(
        self, method: str, url: str, json: Any, headers: dict[str, str], timeout: tuple[float, float]
    ) -> requests.Response:
        """One HTTP exchange; raises for what the breaker should count as a failure."""
        try:
            response = self._session.request(
                method, url, json=json, headers=headers, timeout=timeout, allow_redirects=False
            )
        except requests.ConnectTimeout as exc:
            raise UpstreamTimeout(self.target, f"no connection within {timeout[0]:.3f}s") from exc
        except requests.Timeout as exc:
            raise UpstreamTimeout(self.target, f"no answer within {timeout[1]:.3f}s") from exc
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            raise UpstreamUnavailable(self.target, "connection refused, reset or broken") from exc
        if response.status_code >= 500:
            response.close()
            raise UpstreamError(self.target, response.status_code)
        return response

    def _record(self, method: str, url: str, status: int | None, outcome: str, attempt: int, started: float) -> float:
        duration_ms = round((time.monotonic() - started) * 1000, 1)
        log = logger.info if outcome in ("ok", "client_error") else logger.warning
        log(
            "http_call",
            target=self.target,
            method=method,
            path=urlsplit(url).path,
            status=status,
            duration_ms=duration_ms,
            attempt=attempt,
            outcome=outcome,
        )
        metrics.increment("http_calls", target=self.target, outcome=outcome)
        metrics.gauge_set("http_call_last_outcome", outcome, target=self.target)
        if outcome != "circuit_open":  # nothing was called; it would drag the percentiles to zero
            metrics.observe("http_call_ms", duration_ms, target=self.target)
            metrics.observe_histogram("http_call_ms", duration_ms, target=self.target)
        return duration_ms


def _session(pool_maxsize: int) -> requests.Session:
    session = requests.Session()
    # An API client has no use for cookies, and one caller's must not reach the next.
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    adapter = HTTPAdapter(pool_connections=pool_maxsize, pool_maxsize=pool_maxsize, pool_block=False, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = "ops-console"
    return session


def _may_retry(method: str, idempotency_key: str | None) -> bool:
    """Repeating is safe for idempotent methods, and for a POST the upstream can deduplicate."""
    return method in IDEMPOTENT_METHODS or (method == "POST" and bool(idempotency_key))


def _worth_retrying(error: UpstreamFailure) -> bool:
    if isinstance(error, CircuitOpen):
        return False
    if isinstance(error, UpstreamError):
        return error.status in RETRY_STATUSES
    return isinstance(error, UpstreamTimeout | UpstreamUnavailable)


def _backoff(attempt: int) -> bool:
    """Sleep before retry `attempt` + 1 (exponential, full jitter); False if the deadline has no room."""
    delay = random.uniform(0, min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1)))
    remaining = remaining_seconds()
    if remaining is not None and delay >= remaining:
        return False
    time.sleep(delay)
    return True


# --- One client per target ------------------------------------------------------


@functools.cache
def http_client(target: str) -> BoundedHttpClient:
    """The shared client for `target` in settings.HTTP_TARGETS; ImproperlyConfigured if unknown."""
    return BoundedHttpClient(TargetConfig.from_settings(target))


def reset_clients() -> None:
    """Forget every client, so the next call reads settings again (tests, settings overrides)."""
    http_client.cache_clear()


@receiver(setting_changed)
def _settings_changed(*, setting: str, **_kwargs: Any) -> None:
    if setting in ("HTTP_TARGETS", "HTTP_BREAKER_KEY_PREFIX", "REDIS_URL"):
        reset_clients()
