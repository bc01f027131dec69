"""Start-up refuses bad configuration with a message naming the variable."""

from __future__ import annotations

import pytest

from tests.servers import child_env, run_manage

pytestmark = pytest.mark.django_db

PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "k3y-" + "x7Qp2LmZ9vB4nR8tY1wE6uI0oP3aS5dF" * 2,
    "ALLOWED_HOSTS": "ops.example.com",
    "SECURE_SSL_REDIRECT": "1",
}


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DB_POOL_MAX_SIZE", "lots"),
        ("DB_STATEMENT_TIMEOUT", "-5"),
        ("REDIS_SOCKET_TIMEOUT", "soon"),
        ("DEBUG", "perhaps"),
        ("DATABASE_URL", "mysql://localhost/ops"),
        ("LOG_FORMAT", "xml"),
        ("LOG_LEVEL", "loud"),
        ("TIME_ZONE", "Mars/Olympus"),
        ("DB_POOL_TIMEOUT", "inf"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(variable, value):
    result = run_manage("check", env=child_env(**{variable: value}))

    assert result.returncode != 0
    assert variable in result.stderr
    assert "ImproperlyConfigured" in result.stderr


def test_production_refuses_to_start_without_a_secret_key():
    env = child_env(**PRODUCTION)
    env.pop("SECRET_KEY")

    result = run_manage("check", env=env)

    assert result.returncode != 0
    assert "SECRET_KEY is required when DEBUG is off" in result.stderr


def test_a_pool_whose_minimum_exceeds_its_maximum_is_refused():
    result = run_manage("check", env=child_env(DB_POOL_MIN_SIZE="30", DB_POOL_MAX_SIZE="10"))

    assert result.returncode != 0
    assert "DB_POOL_MIN_SIZE (30) must not exceed DB_POOL_MAX_SIZE (10)" in result.stderr


def test_the_deploy_check_is_clean_under_production_settings():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=child_env(**PRODUCTION))

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_migrations_match_the_models():
    result = run_manage("makemigrations", "--check", "--dry-run", env=child_env(**PRODUCTION))

    assert result.returncode == 0, result.stdout + result.stderr
