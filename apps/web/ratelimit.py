"""Rate limiting shared by every process: one counter per scope and client, in Redis.

A fixed window anchored at a key's first hit: one Lua script increments the
key and gives it the window as its TTL when it has none, atomically and in one
round trip, so all web processes count against the same number.

A slow or dead Redis must not take the console down with it: the request goes
through (fail open), `rate_limit_unavailable` is logged and
`rate_limit_fail_open` counted. See docs/ratelimiting.md.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, wraps
from typing import Any, Literal, NamedTuple, TypeVar

import structlog
from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, MiddlewareNotUsed
from django.http import HttpRequest, HttpResponse
from redis.commands.core import Script

from apps.web.errors import error_response
from apps.web.proxies import client_address
from lib import metrics
from lib.rates import parse_rate
from lib.redis import REDIS_ERRORS, get_client

logger = structlog.get_logger(__name__)

KeyKind = Literal["ip", "user", "user_or_ip"]
KEY_KINDS: tuple[KeyKind, ...] = ("ip", "user", "user_or_ip")
ViewT = TypeVar("ViewT", bound=Callable[..., HttpResponse])

# KEYS[1]: the counter. ARGV[1]: the window in ms. Returns {count, ms until reset}.
# PTTL < 0: the key has no expiry yet (first hit, or it somehow lost it).
_HIT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  ttl = tonumber(ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return {count, ttl}
"""


class Rate(NamedTuple):
    limit: int
    period_seconds: int

    @classmethod
    def parse(cls, text: str, *, name: str) -> Rate:
        """'120/m' -> Rate(120, 60); anything else raises ImproperlyConfigured naming `name`."""
        return cls(*parse_rate(text, name=name))


class RateLimitStatus(NamedTuple):
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int


@cache
def _hit_script() -> Script:
    """The script's SHA1 is computed here, locally; Redis sees it on the first call."""
    return get_client("limiter").register_script(_HIT_SCRIPT)


def rate_limit_hit(*, key: str, rate: Rate, scope: str) -> RateLimitStatus | None:
    """Count one hit on `key`; None when Redis is unavailable, and the caller lets the request through.

    Talks to Redis: one EVALSHA on the limiter client, bounded by
    RATE_LIMIT_REDIS_TIMEOUT (the first call after a Redis restart also loads the script).
    """
    client = get_client("limiter")
    try:
        count, ttl_ms = _hit_script()(keys=[key], args=[rate.period_seconds * 1000], client=client)
    except REDIS_ERRORS as exc:
        logger.warning("rate_limit_unavailable", scope=scope, error_class=type(exc).__name__)
        metrics.increment("rate_limit_fail_open")
        return None
    return RateLimitStatus(
        allowed=count <= rate.limit,
        limit=rate.limit,
        remaining=max(0, rate.limit - count),
        reset_seconds=max(1, math.ceil(ttl_ms / 1000)),
    )


def client_ip(request: HttpRequest) -> str:
    """The address a request is counted under.

    The client's address (apps.web.proxies.client_address: X-Forwarded-For
    only from TRUSTED_PROXIES). IPv6 clients count per /64, the block one host
    usually holds; anything unparseable counts as "unknown".
    """
    address = client_address(request)
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "unknown"
    if ip.version == 6 and ip.ipv4_mapped:
        return str(ip.ipv4_mapped)
    if ip.version == 6:
        return f"{ipaddress.ip_network((ip, 64), strict=False).network_address}/64"
    return str(ip)


def _identity(request: HttpRequest, kind: KeyKind) -> str | None:
    """'user:<id>' or 'ip:<address>'; None when a `user` rule meets an anonymous request."""
    user = getattr(request, "user", None)
    if kind != "ip" and user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    if kind == "user":
        return None
    return f"ip:{client_ip(request)}"


@dataclass(frozen=True)
class RateLimitPolicy:
    scope: str
    key: KeyKind
    rate: Rate

    @classmethod
    def build(cls, *, scope: str, key: str, rate: str, name: str) -> RateLimitPolicy:
        """Validate at start-up: a bad rate or key raises ImproperlyConfigured naming `name`."""
        if key not in KEY_KINDS:
            raise ImproperlyConfigured(f"{name}: key must be one of {', '.join(KEY_KINDS)}, got {key!r}")
        return cls(scope=scope, key=key, rate=Rate.parse(rate, name=name))

    def apply(self, request: HttpRequest, respond: Callable[[HttpRequest], HttpResponse]) -> HttpResponse:
        """Count the request, then answer it with `respond` or refuse it with a 429."""
        identity = _identity(request, self.key)
        if identity is None or not settings.RATE_LIMIT_ENABLED:
            return respond(request)
        key = f"{settings.RATE_LIMIT_KEY_PREFIX}:{self.scope}:{identity}"
        status = rate_limit_hit(key=key, rate=self.rate, scope=self.scope)
        if status is None:
            return respond(request)
        response = respond(request) if status.allowed else self._refuse(request, identity, status)
        _add_headers(response, status)
        return response

    def _refuse(self, request: HttpRequest, identity: str, status: RateLimitStatus) -> HttpResponse:
        key_kind, _, client = identity.partition(":")
        logger.info(
            "rate_limited",
            scope=self.scope,
            key_kind=key_kind,
            client=client,
            path=request.path,
            limit=status.limit,
            reset_seconds=status.reset_seconds,
        )
        metrics.increment("rate_limit_rejections", scope=self.scope)
        return error_response(
            request,
            status=429,
            code="rate_limited",
            message=f"Too many requests; retry in {status.reset_seconds} s.",
            headers={"Retry-After": str(status.reset_seconds)},
        )


def _add_headers(response: HttpResponse, status: RateLimitStatus) -> None:
    """When two limits apply (a view's own and the middleware's), the tighter one is shown."""
    shown = response.headers.get("X-RateLimit-Remaining")
    if shown is not None and int(shown) <= status.remaining:
        return
    response["X-RateLimit-Limit"] = str(status.limit)
    response["X-RateLimit-Remaining"] = str(status.remaining)
    response["X-RateLimit-Reset"] = str(status.reset_seconds)


def rate_limit(rate: str, *, key: KeyKind, scope: str) -> Callable[[ViewT], ViewT]:
    """Limit a sync view: `@rate_limit("10/m", key="user_or_ip", scope="exports")`.

    `key="user"` counts authenticated requests only; put it under @login_required.
    A bad rate or key stops the import that defines the view.
    """
    policy = RateLimitPolicy.build(scope=scope, key=key, rate=rate, name=f"@rate_limit(scope={scope!r})")

    def decorate(view: ViewT) -> ViewT:
        if iscoroutinefunction(view):
            raise ImproperlyConfigured(f"@rate_limit(scope={scope!r}) supports sync views only")

        @wraps(view)
        def limited(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            return policy.apply(request, lambda limited_request: view(limited_request, *args, **kwargs))

        return limited  # type: ignore[return-value]

    return decorate


class RateLimitMiddleware:
    """RATE_LIMIT_API on every path under /api/ (per user, else per IP) and
    RATE_LIMIT_LOGIN on POSTs to RATE_LIMIT_LOGIN_PATHS (per IP)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        if not settings.RATE_LIMIT_ENABLED:
            raise MiddlewareNotUsed
        self.get_response = get_response
        self.api = RateLimitPolicy.build(
            scope="api", key="user_or_ip", rate=settings.RATE_LIMIT_API, name="RATE_LIMIT_API"
        )
        self.login = RateLimitPolicy.build(
            scope="login", key="ip", rate=settings.RATE_LIMIT_LOGIN, name="RATE_LIMIT_LOGIN"
        )
        self.login_paths = frozenset(settings.RATE_LIMIT_LOGIN_PATHS)
        self.exempt_paths = frozenset(settings.RATE_LIMIT_EXEMPT_PATHS)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        policy = self._policy_for(request)
        if policy is None:
            return self.get_response(request)
        return policy.apply(request, self.get_response)

    def _policy_for(self, request: HttpRequest) -> RateLimitPolicy | None:
        """Login paths first, so a login path under /api/ gets the login limit."""
        if request.method == "POST" and request.path_info in self.login_paths:
            return self.login
        if request.path_info.startswith("/api/") and request.path_info not in self.exempt_paths:
            return self.api
        return None
