"""The environment as settings.py reads it: django-environ with the project's rules.

Only settings.py imports this module. `env.<kind>("NAME", default)` reads one
variable; a bad value stops start-up with ImproperlyConfigured naming it.
django-environ does the reading and the list, choice and database-URL parsing;
the rules it cannot express are here:

- a blank value is unset (`FOO=` in a compose file) and values are stripped;
- no `$OTHER` indirection: a value that starts with `$` is itself;
- booleans accept only 1/0, true/false, yes/no, on/off (environ reads any other
  word, a typo included, as false), numbers must parse whole (environ's float
  drops what is not a digit: `0.5s` would be 0.5) and may carry a minimum;
- secrets may come from NAME_FILE, and an unreadable file is named.
"""

from __future__ import annotations

import builtins
import ipaddress
import math
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import environ
from django.core.exceptions import ImproperlyConfigured

from apps.realtime.origins import parse_origin
from lib.rates import parse_rate

T = TypeVar("T")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _boolean(value: str) -> bool:
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ValueError("must be a boolean (1/0, true/false, yes/no)")


def _integer(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ValueError("must be an integer") from None


def _number(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ValueError("must be a number") from None
    if not math.isfinite(number):
        raise ValueError("must be a finite number")
    return number


# Fields of an HTTP_TARGETS entry that HTTP_TARGET_<NAME>_<FIELD> may override, with their type and minimum.
_HTTP_TARGET_FIELDS: dict[str, tuple[type, float]] = {
    "connect_timeout": (float, 0.01),
    "read_timeout": (float, 0.01),
    "pool_maxsize": (int, 1),
    "retries": (int, 0),
    "breaker_fail_max": (int, 1),
    "breaker_reset_timeout": (float, 1.0),
}


class Env(environ.Env):
    """environ.Env whose getters name the variable in every error (see the module docstring)."""

    def raw(self, var: str) -> str | None:
        """The stripped value, or None when the variable is unset or blank."""
        value = self.ENVIRON.get(var, "").strip()
        return value or None

    def get_value(
        self, var: str, cast: Any = None, default: Any = environ.Env.NOTSET, parse_default: bool = False
    ) -> Any:
        value = self.raw(var)
        if value is None:
            if default is self.NOTSET:
                raise ImproperlyConfigured(f"{var} is required")
            return default
        try:
            return self.parse_value(value, cast)
        except ValueError as exc:
            raise ImproperlyConfigured(f"{var} {exc}, got {value!r}") from None

    def bool(self, var: str, default: Any = environ.Env.NOTSET) -> bool:
        return self.get_value(var, cast=_boolean, default=default)

    def int(self, var: str, default: Any = environ.Env.NOTSET, *, minimum: int | None = None) -> int:
        return self._at_least(var, self.get_value(var, cast=_integer, default=default), minimum)

    def float(self, var: str, default: Any = environ.Env.NOTSET, *, minimum: float | None = None) -> float:
        return self._at_least(var, self.get_value(var, cast=_number, default=default), minimum)

    def list(self, var: str, cast: Any = None, default: Any = environ.Env.NOTSET) -> list[Any]:
        """Comma-separated; blanks around and between items are dropped."""
        items = super().list(var, cast=str.strip, default=default)
        return [cast(item) if cast else item for item in items if item]

    def choice(self, var: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.str(var, default)
        if value not in choices:
            raise ImproperlyConfigured(f"{var} must be one of {', '.join(choices)}, got {value!r}")
        return value

    def secret(self, var: str) -> str | None:
        """Read a secret from VAR, or from the file named by VAR_FILE (container secrets)."""
        file_name = self.raw(f"{var}_FILE")
        if file_name:
            try:
                return Path(file_name).read_text().strip()
            except OSError as exc:
                raise ImproperlyConfigured(
                    f"{var}_FILE points at {file_name!r}, which cannot be read: {exc.strerror}"
                ) from None
        return self.raw(var)

    def database_url(self, var: str, default: str) -> dict[str, Any]:
        """A postgres:// URL as Django's NAME/USER/PASSWORD/HOST/PORT and connection OPTIONS.

        A unix-socket directory may be given as ?host=/path (as the embedded
        PostgreSQL does); other query parameters become connection options.
        """
        url = self.str(var, default)
        scheme = urlsplit(url).scheme
        if scheme not in ("postgres", "postgresql"):
            raise ImproperlyConfigured(f"{var} must be a postgres:// or postgresql:// URL, got scheme {scheme!r}")
        try:
            config = self.db_url_config(url)
        except ValueError:
            raise ImproperlyConfigured(f"{var} has an invalid port") from None
        if not config["NAME"]:
            raise ImproperlyConfigured(f"{var} must name a database, e.g. postgres://user@host:5432/ops_console")
        # environ casts numeric-looking options to int; libpq takes them as text either way.
        options = {key: value for key, value in parse_qsl(urlsplit(url).query)}
        host = options.pop("host", None)
        return {
            "NAME": config["NAME"],
            "USER": config["USER"],
            "PASSWORD": config["PASSWORD"],
            "HOST": host or config["HOST"],
            "PORT": str(config["PORT"] or ""),
            "OPTIONS": options,
        }

    def redis_url(self, var: str, default: str) -> str:
        url = self.str(var, default)
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise ImproperlyConfigured(f"{var} must be a redis://, rediss:// or unix:// URL")
        return url

    def http_url(self, var: str, default: str) -> str:
        url = self.str(var, default)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ImproperlyConfigured(f"{var} must be an http:// or https:// URL with a host, got {url!r}")
        return url

    def rate(self, var: str, default: str) -> str:
        value = self.str(var, default)
        parse_rate(value, name=var)
        return value

    def time_zone(self, var: str, default: str) -> str:
        value = self.str(var, default)
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ImproperlyConfigured(
                f"{var} must be an IANA time zone such as UTC or Europe/Berlin, got {value!r}"
            ) from None
        return value

    def networks(self, var: str, default: builtins.list[str]) -> builtins.list[str]:
        """Comma-separated IP addresses or networks, e.g. 10.0.0.5,10.1.0.0/16; returned as networks."""
        networks = []
        for item in self.list(var, default=default):
            try:
                networks.append(str(ipaddress.ip_network(item, strict=False)))
            except ValueError:
                raise ImproperlyConfigured(
                    f"{var} must list IP addresses or networks such as 10.0.0.5 or 10.1.0.0/16, got {item!r}"
                ) from None
        return networks

    def origins(self, var: str, default: builtins.list[str]) -> builtins.list[str]:
        """Exact origins (scheme://host[:port]); an unset variable takes `default`, checked the same way."""
        values = self.list(var, default=default)
        for value in values:
            if parse_origin(value) is None:
                source = "" if self.raw(var) else f" (its default, as {var} is unset)"
                raise ImproperlyConfigured(
                    f"{var} must list origins like https://ops.example.com (scheme://host[:port], no wildcard or "
                    f"path), got {value!r}{source}"
                )
        return values

    def http_target_overrides(self, target: str) -> dict[str, builtins.int | builtins.float]:
        """HTTP_TARGET_<TARGET>_<FIELD> values that are set, e.g. HTTP_TARGET_PAYMENT_PROVIDER_RETRIES=0."""
        overrides: dict[str, int | float] = {}
        for field, (kind, minimum) in _HTTP_TARGET_FIELDS.items():
            name = f"HTTP_TARGET_{target.upper()}_{field.upper()}"
            if self.raw(name) is None:
                continue
            if kind is int:
                overrides[field] = self.int(name, minimum=int(minimum))
            else:
                overrides[field] = self.float(name, minimum=minimum)
        return overrides

    @staticmethod
    def _at_least(var: str, number: T, minimum: Any) -> T:
        if minimum is not None and number < minimum:
            raise ImproperlyConfigured(f"{var} must be at least {minimum}, got {number}")
        return number


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


LOCAL_HOSTS = frozenset({"localhost", ".localhost", "127.0.0.1", "[::1]", "testserver"})


def require_local_hosts_when_debugging(debug: bool, hosts: list[str]) -> list[str]:
    """Refuse DEBUG with a host other machines reach: its error pages show settings and tracebacks.

    At settings load, so it stops every process (uvicorn, runserver, workers, manage.py) before it serves.
    """
    public = [host for host in hosts if host not in LOCAL_HOSTS and not host.endswith(".localhost")]
    if debug and public:
        raise ImproperlyConfigured(
            f"DEBUG is on and ALLOWED_HOSTS names {', '.join(public)}: debug pages would show settings and "
            f"tracebacks to other machines. Turn DEBUG off, or list only {', '.join(sorted(LOCAL_HOSTS))}"
        )
    return hosts


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


env = Env()
