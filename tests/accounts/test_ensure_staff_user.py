from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db


def test_it_creates_a_staff_superuser_with_the_password_from_the_environment(monkeypatch):
    monkeypatch.setenv("OPS_TEST_PASSWORD", "a-long-password-1")

    call_command("ensure_staff_user", "--username", "ops", "--password-env", "OPS_TEST_PASSWORD")

    user = get_user_model().objects.get(username="ops")
    assert user.is_staff and user.is_superuser
    assert user.check_password("a-long-password-1")


def test_running_it_again_resets_the_password(monkeypatch):
    monkeypatch.setenv("OPS_TEST_PASSWORD", "first-password-1")
    call_command("ensure_staff_user", "--username", "ops", "--password-env", "OPS_TEST_PASSWORD")
    monkeypatch.setenv("OPS_TEST_PASSWORD", "second-password-2")

    call_command("ensure_staff_user", "--username", "ops", "--password-env", "OPS_TEST_PASSWORD")

    assert get_user_model().objects.get(username="ops").check_password("second-password-2")


def test_it_refuses_to_run_without_the_password_variable(monkeypatch):
    monkeypatch.delenv("OPS_TEST_PASSWORD", raising=False)

    with pytest.raises(CommandError, match="OPS_TEST_PASSWORD is not set"):
        call_command("ensure_staff_user", "--username", "ops", "--password-env", "OPS_TEST_PASSWORD")


def test_running_it_again_with_the_same_password_keeps_the_hash_so_operators_stay_logged_in(monkeypatch, client):
    monkeypatch.setenv("OPS_TEST_PASSWORD", "same-password-1")
    call_command("ensure_staff_user", "--username", "ops", "--password-env", "OPS_TEST_PASSWORD")
    user = get_user_model().objects.get(username="ops")
    client.force_login(user)
    hashed = user.password

    call_command("ensure_staff_user", "--username", "ops", "--password-env", "OPS_TEST_PASSWORD")

    assert get_user_model().objects.get(username="ops").password == hashed
    assert client.get("/admin/").status_code == 200


def test_it_gives_back_staff_rights_that_were_taken_away(monkeypatch):
    monkeypatch.setenv("OPS_TEST_PASSWORD", "same-password-1")
    call_command("ensure_staff_user", "--username", "ops", "--password-env", "OPS_TEST_PASSWORD")
    get_user_model().objects.filter(username="ops").update(is_staff=False, is_active=False)

    call_command("ensure_staff_user", "--username", "ops", "--password-env", "OPS_TEST_PASSWORD")

    user = get_user_model().objects.get(username="ops")
    assert user.is_staff and user.is_active
