from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from apps.realtime.origins import parse_origin
from ops_console.env import celery_broker_url, env, require_local_hosts_when_debugging
from tests.support.processes import ROOT


def test_an_integer_setting_names_its_variable_when_it_is_not_a_number(monkeypatch):
    monkeypatch.setenv("DB_POOL_MAX_SIZE", "ten")

    with pytest.raises(ImproperlyConfigured, match="DB_POOL_MAX_SIZE must be an integer, got 'ten'"):
        env.int("DB_POOL_MAX_SIZE", 10)


def test_an_integer_setting_below_its_minimum_is_refused(monkeypatch):
    monkeypatch.setenv("DB_POOL_MAX_SIZE", "0")

    with pytest.raises(ImproperlyConfigured, match="DB_POOL_MAX_SIZE must be at least 1"):
        env.int("DB_POOL_MAX_SIZE", 10, minimum=1)


def test_an_unset_integer_setting_takes_its_default(monkeypatch):
    monkeypatch.delenv("DB_POOL_MAX_SIZE", raising=False)

    assert env.int("DB_POOL_MAX_SIZE", 10) == 10


@pytest.mark.parametrize(
    ("raw", "expected"), [("1", True), ("true", True), ("Yes", True), ("0", False), ("off", False)]
)
def test_a_boolean_setting_reads_the_usual_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("DEBUG", raw)

    assert env.bool("DEBUG", False) is expected


def test_a_boolean_setting_refuses_anything_else(monkeypatch):
    monkeypatch.setenv("DEBUG", "maybe")

    with pytest.raises(ImproperlyConfigured, match="DEBUG must be a boolean"):
        env.bool("DEBUG", False)


def test_a_list_setting_splits_on_commas(monkeypatch):
    monkeypatch.setenv("ALLOWED_HOSTS", "ops.example.com, admin.example.com,")

    assert env.list("ALLOWED_HOSTS", default=[]) == ["ops.example.com", "admin.example.com"]


def test_a_secret_can_come_from_a_file(monkeypatch, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("s3cr3t\n")
    monkeypatch.setenv("SECRET_KEY_FILE", str(secret))

    assert env.secret("SECRET_KEY") == "s3cr3t"


def test_an_unreadable_secret_file_names_the_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("SECRET_KEY_FILE", str(tmp_path / "missing"))

    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY_FILE"):
        env.secret("SECRET_KEY")


def test_a_database_url_with_a_socket_directory_is_understood(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@/ops?host=/run/pg&sslmode=disable")

    parsed = env.database_url("DATABASE_URL", "postgres://localhost/x")

    assert parsed["NAME"] == "ops"
    assert parsed["HOST"] == "/run/pg"
    assert parsed["OPTIONS"] == {"sslmode": "disable"}


def test_a_database_url_with_credentials_host_and_port_is_understood(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://ops:p%40ss@db.internal:6432/ops_console")

    parsed = env.database_url("DATABASE_URL", "postgres://localhost/x")

    assert (parsed["USER"], parsed["PASSWORD"], parsed["HOST"], parsed["PORT"]) == (
        "ops",
        "p@ss",
        "db.internal",
        "6432",
    )


@pytest.mark.parametrize("url", ["mysql://localhost/ops", "postgres://localhost:5432/", "postgres://localhost:x/ops"])
def test_a_bad_database_url_names_the_variable(monkeypatch, url):
    monkeypatch.setenv("DATABASE_URL", url)

    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL"):
        env.database_url("DATABASE_URL", "postgres://localhost/x")


def test_a_bad_redis_url_names_the_variable(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "localhost:6379")

    with pytest.raises(ImproperlyConfigured, match="REDIS_URL"):
        env.redis_url("REDIS_URL", "redis://localhost:6379/0")


def test_the_celery_broker_reaches_a_unix_socket_redis_by_kombus_scheme():
    assert celery_broker_url("unix:///tmp/r.sock") == "redis+socket:///tmp/r.sock"
    assert celery_broker_url("redis://cache:6379/1") == "redis://cache:6379/1"


def test_an_empty_boolean_setting_takes_its_default(monkeypatch):
    monkeypatch.setenv("SECURE_SSL_REDIRECT", "")

    assert env.bool("SECURE_SSL_REDIRECT", True) is True


def test_the_celery_broker_keeps_the_redis_database_of_a_unix_socket_url():
    assert celery_broker_url("unix:///tmp/r.sock?db=3") == "redis+socket:///tmp/r.sock?virtual_host=3"


@pytest.mark.parametrize(
    ("origin", "expected"),
    [
        ("https://ops.example.com", ("https", "ops.example.com", 443)),
        ("HTTP://Ops.Example.com:80", ("http", "ops.example.com", 80)),
        ("http://127.0.0.1:9999", ("http", "127.0.0.1", 9999)),
        ("http://[::1]:8000", ("http", "::1", 8000)),
    ],
)
def test_an_origin_is_its_scheme_host_and_port_with_the_default_port_made_explicit(origin, expected):
    assert parse_origin(origin) == expected


@pytest.mark.parametrize(
    "origin",
    ["null", "ops.example.com", "ftp://ops.example.com", "https://*.example.com", "https://ops.example.com/console",
     "https://user@ops.example.com", "http://127.0.0.1:port", ""],
)  # fmt: skip
def test_anything_but_an_exact_web_origin_is_not_an_origin(origin):
    assert parse_origin(origin) is None


def test_an_origin_list_names_its_variable_and_the_bad_origin(monkeypatch):
    monkeypatch.setenv("WS_ALLOWED_ORIGINS", "https://ops.example.com,ops.example.com:8000")

    with pytest.raises(
        ImproperlyConfigured, match=r"WS_ALLOWED_ORIGINS must list origins .* got 'ops\.example\.com:8000'"
    ):
        env.origins("WS_ALLOWED_ORIGINS", [])


def test_an_origin_list_checks_its_default_too(monkeypatch):
    monkeypatch.delenv("WS_ALLOWED_ORIGINS", raising=False)

    with pytest.raises(ImproperlyConfigured, match="its default, as WS_ALLOWED_ORIGINS is unset"):
        env.origins("WS_ALLOWED_ORIGINS", ["https://*.example.com"])


def test_a_number_with_anything_but_digits_is_refused_not_trimmed(monkeypatch):
    monkeypatch.setenv("DB_POOL_TIMEOUT", "0.5s")

    with pytest.raises(ImproperlyConfigured, match=r"DB_POOL_TIMEOUT must be a number, got '0\.5s'"):
        env.float("DB_POOL_TIMEOUT", 5.0)


def test_a_value_starting_with_a_dollar_is_itself_not_another_variable(monkeypatch):
    monkeypatch.setenv("CACHE_KEY_PREFIX", "$HOME")

    assert env.str("CACHE_KEY_PREFIX", "ops") == "$HOME"


def test_a_blank_value_takes_the_default(monkeypatch):
    monkeypatch.setenv("CACHE_KEY_PREFIX", "  ")

    assert env.str("CACHE_KEY_PREFIX", "ops") == "ops"


def test_a_choice_outside_its_choices_names_the_variable(monkeypatch):
    monkeypatch.setenv("LOG_FORMAT", "xml")

    with pytest.raises(ImproperlyConfigured, match="LOG_FORMAT must be one of json, console, got 'xml'"):
        env.choice("LOG_FORMAT", "json", ("json", "console"))


def test_no_app_imports_the_settings_parsing_module():
    importers = [
        path
        for package in ("apps", "lib")
        for path in (ROOT / package).rglob("*.py")
        if "ops_console.env" in path.read_text()
    ]

    assert importers == []


@pytest.mark.parametrize("hosts", [["ops.example.com"], ["localhost", "*"], ["10.0.0.5"]])
def test_debug_with_a_host_other_machines_reach_is_refused_naming_it(hosts):
    with pytest.raises(ImproperlyConfigured, match=f"DEBUG is on and ALLOWED_HOSTS names {hosts[-1]}"):
        require_local_hosts_when_debugging(True, hosts)


def test_debug_on_this_machine_only_is_accepted():
    hosts = ["localhost", "127.0.0.1", "[::1]", "testserver", ".localhost", "console.localhost"]

    assert require_local_hosts_when_debugging(True, hosts) == hosts


def test_production_may_name_any_host():
    assert require_local_hosts_when_debugging(False, ["ops.example.com"]) == ["ops.example.com"]
