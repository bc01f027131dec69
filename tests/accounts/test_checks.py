from __future__ import annotations

import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher, BCryptSHA256PasswordHasher

from apps.accounts.checks import password_hashers_check


class WeakArgon2(Argon2PasswordHasher):
    memory_cost = 1024


class WeakBCrypt(BCryptSHA256PasswordHasher):
    rounds = 10


@pytest.fixture
def hashers(settings):
    def use(*paths: str) -> list[str]:
        settings.PASSWORD_HASHERS = list(paths)
        return [error.id for error in password_hashers_check()]

    return use


def test_the_shipped_configuration_passes(hashers, settings):
    from ops_console import settings as shipped

    assert hashers(*shipped.PASSWORD_HASHERS) == []


def test_argon2_must_come_first(hashers):
    assert hashers("django.contrib.auth.hashers.PBKDF2PasswordHasher") == ["ops_console.E001"]


def test_a_bcrypt_hasher_below_twelve_rounds_is_refused(hashers):
    ids = hashers("django.contrib.auth.hashers.Argon2PasswordHasher", "tests.accounts.test_checks.WeakBCrypt")

    assert ids == ["ops_console.E003"]


def test_argon2_parameters_below_djangos_defaults_are_refused(hashers):
    assert hashers("tests.accounts.test_checks.WeakArgon2") == ["ops_console.E004"]


def test_md5_is_refused_outside_debug(hashers, settings):
    settings.DEBUG = False

    ids = hashers("django.contrib.auth.hashers.Argon2PasswordHasher", "django.contrib.auth.hashers.MD5PasswordHasher")

    assert ids == ["ops_console.E002"]


@pytest.mark.slow
def test_a_weakened_configuration_stops_start_up(tmp_path):
    from tests.support.processes import child_env, run_manage

    settings_module = tmp_path / "weak_settings.py"
    settings_module.write_text(
        "from ops_console.settings import *\nPASSWORD_HASHERS = ['django.contrib.auth.hashers.PBKDF2PasswordHasher']\n"
    )
    env = child_env(DJANGO_SETTINGS_MODULE="weak_settings", PYTHONPATH=str(tmp_path))

    result = run_manage("check", env=env)

    assert result.returncode != 0
    assert "ops_console.E001" in result.stderr
