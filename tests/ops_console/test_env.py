from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from ops_console.env import (
    celery_broker_url,
    env_bool,
    env_database_url,
    env_int,
    env_list,
    env_origins,
    env_redis_url,
    env_secret,
    parse_origin,
)


def test_an_integer_setting_names_its_variable_when_it_is_not_a_number(monkeypatch):
    monkeypatch.setenv("DB_POOL_MAX_SIZE", "ten")

    with pytest.raises(ImproperlyConfigured, match="DB_POOL_MAX_SIZE must be an integer, got 'ten'"):
        env_int("DB_POOL_MAX_SIZE", 10)


def test_an_integer_setting_below_its_minimum_is_refused(monkeypatch):
    monkeypatch.setenv("DB_POOL_MAX_SIZE", "0")

    with pytest.raises(ImproperlyConfigured, match="DB_POOL_MAX_SIZE must be at least 1"):
        env_int("DB_POOL_MAX_SIZE", 10, minimum=1)


def test_an_unset_integer_setting_takes_its_default(monkeypatch):
    monkeypatch.delenv("DB_POOL_MAX_SIZE", raising=False)

    assert env_int("DB_POOL_MAX_SIZE", 10) == 10


@pytest.mark.parametrize(
    ("raw", "expected"), [("1", True), ("true", True), ("Yes", True), ("0", False), ("off", False)]
)
def test_a_boolean_setting_reads_the_usual_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("DEBUG", raw)

    assert env_bool("DEBUG", False) is expected


def test_a_boolean_setting_refuses_anything_else(monkeypatch):
    monkeypatch.setenv("DEBUG", "maybe")

    with pytest.raises(ImproperlyConfigured, match="DEBUG must be a boolean"):
        env_bool("DEBUG", False)


def test_a_list_setting_splits_on_commas(monkeypatch):
    monkeypatch.setenv("ALLOWED_HOSTS", "ops.example.com, admin.example.com,")

    assert env_list("ALLOWED_HOSTS", []) == ["ops.example.com", "admin.example.com"]


def test_a_secret_can_come_from_a_file(monkeypatch, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("s3cr3t\n")
    monkeypatch.setenv("SECRET_KEY_FILE", str(secret))

    assert env_secret("SECRET_KEY") == "s3cr3t"


def test_an_unreadable_secret_file_names_the_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("SECRET_KEY_FILE", str(tmp_path / "missing"))

    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY_FILE"):
        env_secret("SECRET_KEY")


def test_a_database_url_with_a_socket_directory_is_understood(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@/ops?host=/run/pg&sslmode=disable")

    parsed = env_database_url("DATABASE_URL", "postgres://localhost/x")

    assert parsed["NAME"] == "ops"
    assert parsed["HOST"] == "/run/pg"
    assert parsed["QUERY_OPTIONS"] == {"sslmode": "disable"}


def test_a_database_url_with_credentials_host_and_port_is_understood(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://ops:p%40ss@db.internal:6432/ops_console")

    parsed = env_database_url("DATABASE_URL", "postgres://localhost/x")

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
        env_database_url("DATABASE_URL", "postgres://localhost/x")


def test_a_bad_redis_url_names_the_variable(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "localhost:6379")

    with pytest.raises(ImproperlyConfigured, match="REDIS_URL"):
        env_redis_url("REDIS_URL", "redis://localhost:6379/0")


def test_the_celery_broker_reaches_a_unix_socket_redis_by_kombus_scheme():
    assert celery_broker_url("unix:///tmp/r.sock") == "redis+socket:///tmp/r.sock"
    assert celery_broker_url("redis://cache:6379/1") == "redis://cache:6379/1"


def test_an_empty_boolean_setting_takes_its_default(monkeypatch):
    monkeypatch.setenv("SECURE_SSL_REDIRECT", "")

    assert env_bool("SECURE_SSL_REDIRECT", True) is True


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
        env_origins("WS_ALLOWED_ORIGINS", [])


def test_an_origin_list_checks_its_default_too(monkeypatch):
    monkeypatch.delenv("WS_ALLOWED_ORIGINS", raising=False)

    with pytest.raises(ImproperlyConfigured, match="its default, as WS_ALLOWED_ORIGINS is unset"):
        env_origins("WS_ALLOWED_ORIGINS", ["https://*.example.com"])
