"""Typed getters for settings read from the environment.

Each getter names the variable in its error, so a bad value stops start-up
with a message an operator can act on.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
import sys
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    return None if value is None else value.strip()


def env_str(name: str, default: str | None = None) -> str | None:
    value = _raw(name)
    return default if value in (None, "") else value


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value in (None, ""):
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false, yes/no), got {value!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    value = _raw(name)
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {number}")
    return number


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    value = _raw(name)
    if value in (None, ""):
        return default
    try:
        number = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ImproperlyConfigured(f"{name} must be a finite number, got {value!r}")
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {number}")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = _raw(name)
    if value in (None, ""):
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_networks(name: str, default: list[str]) -> list[str]:
    """Comma-separated IP addresses or networks, e.g. 10.0.0.5,10.1.0.0/16; returned as networks."""
    networks = []
    for item in env_list(name, default):
        try:
            networks.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise ImproperlyConfigured(
                f"{name} must list IP addresses or networks such as 10.0.0.5 or 10.1.0.0/16, got {item!r}"
            ) from None
    return networks


def env_secret(name: str) -> str | None:
    """Read a secret from NAME, or from the file named by NAME_FILE (container secrets)."""
    file_name = _raw(f"{name}_FILE")
    if file_name:
        try:
            return Path(file_name).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(
                f"{name}_FILE points at {file_name!r}, which cannot be read: {exc.strerror}"
            ) from None
    return env_str(name)


def require_strong_secret_key(name: str, value: str) -> str:
    """Refuse a key that `check --deploy` would call weak (security.W009); the message never shows it."""
    from django.core.checks.security.base import (
        SECRET_KEY_INSECURE_PREFIX,
        SECRET_KEY_MIN_LENGTH,
        SECRET_KEY_MIN_UNIQUE_CHARACTERS,
    )

    if (
        len(value) < SECRET_KEY_MIN_LENGTH
        or len(set(value)) < SECRET_KEY_MIN_UNIQUE_CHARACTERS
        or value.startswith(SECRET_KEY_INSECURE_PREFIX)
    ):
        raise ImproperlyConfigured(
            f"{name} is weak: use at least {SECRET_KEY_MIN_LENGTH} random characters, "
            f"at least {SECRET_KEY_MIN_UNIQUE_CHARACTERS} of them different, not starting with "
            f"{SECRET_KEY_INSECURE_PREFIX!r} (python -c 'import secrets; print(secrets.token_urlsafe(50))')"
        )
    return value


def _program_name(arg: str) -> str:
    """`python -m pkg` puts pkg/__main__.py in argv[0]: name the package instead."""
    path = Path(arg)
    return path.parent.name if path.name == "__main__.py" else path.name


def process_kind() -> str:
    """Which kind of process this is: web, worker, beat, relay, manage (or test).

    It names the process in every log line and in PostgreSQL's
    application_name, so pg_stat_activity shows who holds connections.
    OPS_PROCESS_KIND wins; otherwise the command line tells.
    """
    explicit = env_str("OPS_PROCESS_KIND")
    if explicit:
        return explicit
    argv = " ".join(_program_name(arg) for arg in sys.argv[:3])
    if "celery" in argv:
        return "beat" if "beat" in sys.argv[1:] else "worker"
    if any(server in argv for server in ("uvicorn", "daphne", "gunicorn", "runserver")):
        return "web"
    if "pytest" in argv:
        return "test"
    if "outbox_relay" in sys.argv[1:3]:
        return "relay"
    return "manage"


def env_database_url(name: str, default: str) -> dict[str, object]:
    """Parse a postgres:// URL into Django's NAME/USER/PASSWORD/HOST/PORT.

    A unix-socket directory may be given as ?host=/path (as the embedded
    PostgreSQL does). Other query parameters become connection options.
    """
    url = env_str(name, default) or default
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ImproperlyConfigured(f"{name} must be a postgres:// or postgresql:// URL, got scheme {parts.scheme!r}")
    query = dict(parse_qsl(parts.query))
    try:
        port = parts.port
    except ValueError:
        raise ImproperlyConfigured(f"{name} has an invalid port") from None
    database = unquote(parts.path.lstrip("/"))
    if not database:
        raise ImproperlyConfigured(f"{name} must name a database, e.g. postgres://user@host:5432/ops_console")
    return {
        "NAME": database,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": query.pop("host", None) or unquote(parts.hostname or ""),
        "PORT": str(port or ""),
        "QUERY_OPTIONS": query,
    }


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env_str(name, default) or default
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def env_redis_url(name: str, default: str) -> str:
    url = env_str(name, default) or default
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ImproperlyConfigured(f"{name} must be a redis://, rediss:// or unix:// URL")
    return url


def celery_broker_url(redis_url: str) -> str:
    """Kombu spells a unix-socket Redis URL redis+socket:// and its database ?virtual_host=N."""
    if not redis_url.startswith("unix://"):
        return redis_url
    path, _, query = redis_url.removeprefix("unix://").partition("?")
    params = dict(parse_qsl(query))
    database = params.pop("db", None)
    if database is not None:
        params["virtual_host"] = database
    return f"redis+socket://{path}" + (f"?{urlencode(params)}" if params else "")


def env_time_zone(name: str, default: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    value = env_str(name, default) or default
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ImproperlyConfigured(
            f"{name} must be an IANA time zone such as UTC or Europe/Berlin, got {value!r}"
        ) from None
    return value


_RATE = re.compile(r"(?P<count>[1-9][0-9]*)/(?P<unit>[smhd])")
_RATE_PERIOD_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(value: str, *, name: str) -> tuple[int, int]:
    """'120/m' -> (120, 60): a positive count, a slash, one of s, m, h, d; nothing else."""
    match = _RATE.fullmatch(value)
    if match is None:
        raise ImproperlyConfigured(
            f"{name} must be a rate like 120/m (a positive count per s, m, h or d), got {value!r}"
        )
    return int(match["count"]), _RATE_PERIOD_SECONDS[match["unit"]]


def env_rate(name: str, default: str) -> str:
    value = env_str(name, default) or default
    parse_rate(value, name=name)
    return value


def env_http_url(name: str, default: str) -> str:
    value = env_str(name, default) or default
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ImproperlyConfigured(f"{name} must be an http:// or https:// URL with a host, got {value!r}")
    return value


_DEFAULT_PORTS = {"http": 80, "https": 443}


def parse_origin(value: str) -> tuple[str, str, int] | None:
    """'HTTPS://Ops.example.com' -> ('https', 'ops.example.com', 443); None if it is not an exact web origin.

    An origin is http or https, a host and an optional port (the scheme's default
    made explicit): no user, path, query, fragment or wildcard.
    """
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or "*" in parts.netloc or "@" in parts.netloc:
        return None
    if parts.path or parts.query or parts.fragment:
        return None
    return scheme, parts.hostname, _DEFAULT_PORTS[scheme] if port is None else port


def env_origins(name: str, default: list[str]) -> list[str]:
    """A list of exact origins (scheme://host[:port]); an unset variable takes `default`, checked the same way."""
    values = env_list(name, default)
    for value in values:
        if parse_origin(value) is None:
            source = "" if _raw(name) else f" (its default, as {name} is unset)"
            raise ImproperlyConfigured(
                f"{name} must list origins like https://ops.example.com (scheme://host[:port], no wildcard or path), "
                f"got {value!r}{source}"
            )
    return values


# Fields of an HTTP_TARGETS entry that HTTP_TARGET_<NAME>_<FIELD> may override, with their type and minimum.
_HTTP_TARGET_FIELDS: dict[str, tuple[type, float]] = {
    "connect_timeout": (float, 0.01),
    "read_timeout": (float, 0.01),
    "pool_maxsize": (int, 1),
    "retries": (int, 0),
    "breaker_fail_max": (int, 1),
    "breaker_reset_timeout": (float, 1.0),
}


def env_http_target_overrides(target: str) -> dict[str, int | float]:
    """HTTP_TARGET_<TARGET>_<FIELD> values that are set, e.g. HTTP_TARGET_PAYMENT_PROVIDER_RETRIES=0."""
    overrides: dict[str, int | float] = {}
    for field, (kind, minimum) in _HTTP_TARGET_FIELDS.items():
        name = f"HTTP_TARGET_{target.upper()}_{field.upper()}"
        if env_str(name) is None:
            continue
        if kind is int:
            overrides[field] = env_int(name, 0, minimum=int(minimum))
        else:
            overrides[field] = env_float(name, 0.0, minimum=minimum)
    return overrides
