"""Start-up refuses bad configuration with a message naming the variable."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.processes import ROOT, child_env, run_manage

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

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
        ("TRUSTED_PROXIES", "10.0.0.1,proxy.internal"),
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


@pytest.mark.parametrize(
    "weak_key",
    [
        "short-but-random-Qx7p2LmZ9vB4nR8t",  # fewer than 50 characters
        "ab" * 40,  # fewer than 5 different characters
        "django-insecure-" + "x7Qp2LmZ9vB4nR8tY1wE6uI0oP3aS5dF" * 2,  # Django's placeholder prefix
    ],
)
def test_production_refuses_to_start_with_a_weak_secret_key(weak_key):
    result = run_manage("check", env=child_env(**{**PRODUCTION, "SECRET_KEY": weak_key}))

    assert result.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY is weak" in result.stderr
    assert weak_key not in result.stderr


def test_development_accepts_a_weak_secret_key():
    result = run_manage("check", env=child_env(DEBUG="1", SECRET_KEY="dev"))

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("retired", ["TRUST_X_FORWARDED_FOR", "TRUST_X_FORWARDED_PROTO"])
def test_a_retired_forwarded_header_switch_that_is_on_stops_start_up_naming_trusted_proxies(retired):
    result = run_manage("check", env=child_env(**{retired: "1"}))

    assert result.returncode != 0
    assert f"{retired} is no longer read: list your proxies' addresses in TRUSTED_PROXIES" in result.stderr


def test_forwarded_proto_is_believed_only_once_proxies_are_trusted():
    show = "from django.conf import settings; print(settings.SECURE_PROXY_SSL_HEADER, settings.TRUSTED_PROXIES)"

    untrusting = run_manage("shell", "-c", show, env=child_env())
    trusting = run_manage("shell", "-c", show, env=child_env(TRUSTED_PROXIES="10.0.0.5, 10.1.0.0/16"))

    assert untrusting.stdout.splitlines()[-1] == "None []"
    assert trusting.stdout.splitlines()[-1] == "('HTTP_X_FORWARDED_PROTO', 'https') ['10.0.0.5/32', '10.1.0.0/16']"


def test_a_pool_whose_minimum_exceeds_its_maximum_is_refused():
    result = run_manage("check", env=child_env(DB_POOL_MIN_SIZE="30", DB_POOL_MAX_SIZE="10"))

    assert result.returncode != 0
    assert "DB_POOL_MIN_SIZE (30) must not exceed DB_POOL_MAX_SIZE (10)" in result.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DB_POOL_TIMEOUT": "30", "REQUEST_TIMEOUT": "30"}, "DB_POOL_TIMEOUT (30.0) must be less than REQUEST_TIMEOUT (30.0)"),
        ({"HEALTH_CHECK_TIMEOUT": "7", "REQUEST_TIMEOUT": "6"}, "HEALTH_CHECK_TIMEOUT (7.0) must be less than REQUEST_TIMEOUT (6.0)"),
        ({"CELERY_TASK_SOFT_TIME_LIMIT": "90", "CELERY_TASK_TIME_LIMIT": "90"}, "CELERY_TASK_TIME_LIMIT (90) must exceed CELERY_TASK_SOFT_TIME_LIMIT (90)"),
        ({"OUTBOX_PUBLISH_TIMEOUT": "1", "OUTBOX_RELAY_GRACE": "2"}, "OUTBOX_RELAY_GRACE (2.0) must exceed two OUTBOX_PUBLISH_TIMEOUTs (1.0)"),
        ({"DB_POOL_CHECK_IDLE": "1.5", "TASK_RETRY_BACKOFF_BASE": "2"}, "DB_POOL_CHECK_IDLE (1.5) must not exceed half of TASK_RETRY_BACKOFF_BASE (2.0)"),
    ],
)  # fmt: skip
def test_timeouts_out_of_order_are_refused_naming_both_variables(env, message):
    result = run_manage("check", env=child_env(**env))

    assert result.returncode != 0
    assert message in result.stderr


def test_a_visibility_timeout_shorter_than_the_hard_limit_plus_the_longest_backoff_is_refused():
    env = child_env(CELERY_VISIBILITY_TIMEOUT="300", CELERY_TASK_TIME_LIMIT="90", TASK_RETRY_BACKOFF_MAX="300")

    result = run_manage("check", env=env)

    assert result.returncode != 0
    assert (
        "CELERY_VISIBILITY_TIMEOUT (300) must be at least CELERY_TASK_TIME_LIMIT (90) plus TASK_RETRY_BACKOFF_MAX (300.0)"
        in result.stderr
    )


def test_a_visibility_timeout_covering_the_hard_limit_plus_the_longest_backoff_is_accepted():
    env = child_env(
        CELERY_VISIBILITY_TIMEOUT="5",
        CELERY_TASK_SOFT_TIME_LIMIT="3",
        CELERY_TASK_TIME_LIMIT="4",
        TASK_RETRY_BACKOFF_MAX="1",
    )

    result = run_manage("check", env=env)

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "deployment",
    [{}, {"TRUSTED_PROXIES": "10.0.0.0/8"}, {"DB_PGBOUNCER": "1"}],
    ids=["direct", "behind a proxy", "behind pgbouncer"],
)
def test_the_deploy_check_is_clean_under_production_settings(deployment):
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=child_env(**PRODUCTION, **deployment))

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


LIST_CHECK_IDS = (
    "from django.core.checks import run_checks; "
    "print(' '.join(sorted({m.id for m in run_checks(include_deployment_checks=True)})))"
)


def test_the_only_check_production_silences_is_the_one_the_docs_justify():
    """`check --deploy` runs every check, silenced ones too; only models.E034 may be among them."""
    result = run_manage("shell", "--no-imports", "-c", LIST_CHECK_IDS, env=child_env(**PRODUCTION))

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["models.E034"]  # docs/architecture.md: index names longer than 30 characters


def test_migrations_match_the_models():
    result = run_manage("makemigrations", "--check", "--dry-run", env=child_env(**PRODUCTION))

    assert result.returncode == 0, result.stdout + result.stderr


# --- Outbound HTTP ----------------------------------------------------------------


def test_production_refuses_to_start_without_a_payment_webhook_secret():
    env = child_env(**PRODUCTION)
    env.pop("PAYMENT_WEBHOOK_SECRET", None)
    env.pop("PAYMENT_WEBHOOK_SECRET_FILE", None)

    result = run_manage("check", env=env)

    assert result.returncode != 0
    assert "PAYMENT_WEBHOOK_SECRET is required when DEBUG is off" in result.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PAYMENT_PROVIDER_URL", "ftp://provider.example.com"),
        ("PAYMENT_TIMEOUT", "soon"),
        ("HTTP_TARGET_PAYMENT_PROVIDER_RETRIES", "-1"),
    ],
)
def test_a_bad_outbound_http_value_stops_start_up_naming_the_variable(variable, value):
    result = run_manage("check", env=child_env(**{variable: value}))

    assert result.returncode != 0
    assert variable in result.stderr


def test_an_http_target_field_can_be_overridden_from_the_environment():
    show = "from django.conf import settings; t = settings.HTTP_TARGETS['payment_provider']; print(t['retries'], t['read_timeout'])"
    env = child_env(HTTP_TARGET_PAYMENT_PROVIDER_RETRIES="0", PAYMENT_TIMEOUT="2500")

    result = run_manage("shell", "-c", show, env=env)

    assert result.stdout.splitlines()[-1].split() == ["0", "2.5"], result.stderr


AMQP = "amqp://guest:guest@127.0.0.1:5672/ops"


@pytest.mark.parametrize("variable", ["CELERY_BROKER_KEY_PREFIX", "CELERY_VISIBILITY_TIMEOUT"])
def test_a_redis_only_broker_option_with_an_amqp_broker_stops_start_up_naming_it(variable):
    result = run_manage("check", env=child_env(CELERY_BROKER_URL=AMQP, **{variable: "7200"}))

    assert result.returncode != 0
    assert f"{variable} applies to a Redis broker only, and CELERY_BROKER_URL is amqp://" in result.stderr


def test_a_delivery_limit_below_the_poison_limit_is_refused_with_an_amqp_broker():
    env = child_env(CELERY_BROKER_URL=AMQP, CELERY_QUEUE_DELIVERY_LIMIT="2", TASK_MAX_DELIVERIES="3")

    result = run_manage("check", env=env)

    assert result.returncode != 0
    assert "CELERY_QUEUE_DELIVERY_LIMIT (2) must be at least TASK_MAX_DELIVERIES (3)" in result.stderr


def test_a_broker_url_of_another_kind_is_refused_naming_it():
    result = run_manage("check", env=child_env(CELERY_BROKER_URL="sqs://key:secret@"))

    assert result.returncode != 0
    assert "CELERY_BROKER_URL must be a redis://" in result.stderr


def test_an_amqp_broker_passes_the_deploy_check_under_production_settings():
    env = child_env(**PRODUCTION, CELERY_BROKER_URL=AMQP, CELERY_BROKER_KEY_PREFIX="", CELERY_VISIBILITY_TIMEOUT="")

    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=env)

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("option", ["options=-c%20statement_timeout%3D5000", "prepare_threshold=5"])
def test_behind_pgbouncer_a_database_url_asking_for_session_state_is_refused(option):
    url = child_env()["DATABASE_URL"]
    env = child_env(DB_PGBOUNCER="1", DATABASE_URL=f"{url}{'&' if '?' in url else '?'}{option}")

    result = run_manage("check", env=env)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "DB_PGBOUNCER" in result.stderr


def test_the_web_server_refuses_to_start_with_debug_on_for_a_public_host():
    env = child_env(DEBUG="1", SECRET_KEY="dev", ALLOWED_HOSTS="ops.example.com")
    command = [sys.executable, "-m", "uvicorn", "ops_console.asgi:application", "--host", "127.0.0.1", "--port", "0"]

    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)

    assert result.returncode != 0
    assert "DEBUG is on and ALLOWED_HOSTS names ops.example.com" in result.stderr
