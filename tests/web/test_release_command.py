"""`manage.py release` (the Procfile's release step): deploy checks first, then migrations and static files."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

pytestmark = pytest.mark.django_db

# The suite hashes passwords with MD5 for speed; the deploy checks refuse that (ops_console.E001/E002).
PRODUCTION_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]


def test_release_migrates_and_collects_the_static_files(tmp_path):
    with override_settings(STATIC_ROOT=tmp_path / "static", PASSWORD_HASHERS=PRODUCTION_HASHERS):
        call_command("release", fail_level="ERROR", verbosity=0)
    assert (tmp_path / "static" / "staticfiles.json").exists()  # the manifest production serves from
    assert any((tmp_path / "static" / "admin").iterdir())


def test_a_deploy_warning_stops_the_release_before_anything_changed(tmp_path):
    # Plain HTTP with HSTS off: security.W008 and W004 under `check --deploy`.
    insecure = {"SECURE_SSL_REDIRECT": False, "SECURE_HSTS_SECONDS": 0, "PASSWORD_HASHERS": PRODUCTION_HASHERS}
    with (
        override_settings(STATIC_ROOT=tmp_path / "static", **insecure),
        pytest.raises(SystemCheckError, match=r"security\.W008"),
    ):
        call_command("release", verbosity=0)
    assert not (tmp_path / "static").exists()
