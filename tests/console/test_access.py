from __future__ import annotations

import time
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.factories import UserFactory

PAGES = ["/ops/", "/ops/alerts", "/ops/audit", "/ops/live"]
TWINS = ["/api/ops/overview", "/api/ops/alerts", "/api/ops/audit"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", PAGES)
def test_an_anonymous_visitor_is_sent_to_the_admin_login(path):
    response = Client().get(path)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=")


@pytest.mark.django_db
@pytest.mark.parametrize("path", TWINS)
def test_an_anonymous_script_gets_a_401_json_error(path):
    response = Client().get(path)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


@pytest.mark.parametrize("path", ["/ops/", "/ops/alerts", "/ops/audit"])
def test_a_signed_in_non_staff_user_gets_the_403_page(member_client, path):
    response = member_client.get(path)

    assert response.status_code == 403
    assert b"Not allowed" in response.content


@pytest.mark.parametrize("path", TWINS)
def test_a_non_staff_script_gets_a_403_json_error(member_client, path):
    response = member_client.get(path)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


@pytest.mark.django_db
def test_staff_without_the_view_console_permission_are_refused():
    client = Client()
    client.force_login(UserFactory(is_staff=True))

    assert client.get("/ops/").status_code == 403


@pytest.mark.django_db
def test_staff_in_the_operators_group_may_view_the_console():
    user = UserFactory(is_staff=True)
    user.groups.add(Group.objects.get(name="operators"))
    client = Client()
    client.force_login(user)

    assert client.get("/ops/").status_code == 200


@pytest.mark.django_db
def test_the_operators_group_is_read_only():
    codenames = set(Group.objects.get(name="operators").permissions.values_list("codename", flat=True))

    assert {"view_console", "view_payment", "view_deadletter", "view_operatoraction"} <= codenames
    assert not [c for c in codenames if c.startswith(("add_", "change_", "delete_"))]
    assert not codenames & {"replay_deadletters", "cancel_queries", "run_drills"}


def test_console_pages_refuse_posts(staff_client):
    assert staff_client.post("/ops/").status_code == 405


# --- /ops/live: the page's polling fallback, let in on a remembered grant (access.console_poll) ----------

AUTH_TABLES = ("auth_user", "auth_permission", "auth_group")


def _polling_operator() -> tuple[Any, Client]:
    user = UserFactory(is_staff=True)
    user.groups.add(Group.objects.get(name="operators"))
    client = Client()
    client.force_login(user)
    assert client.get("/ops/live").status_code == 200  # the full check, remembered
    return user, client


@pytest.mark.django_db
def test_a_polling_page_reads_neither_the_user_nor_its_permissions_after_its_first_poll():
    _, client = _polling_operator()

    with CaptureQueriesContext(connection) as queries:
        assert client.get("/ops/live").status_code == 200

    assert [q["sql"] for q in queries.captured_queries if any(t in q["sql"] for t in AUTH_TABLES)] == []


@pytest.mark.django_db
def test_a_deactivated_operator_is_refused_on_the_next_poll():
    user, client = _polling_operator()

    user.is_active = False
    user.save()

    assert client.get("/ops/live").status_code == 302  # signed out: to the login page


@pytest.mark.django_db
def test_an_operator_taken_out_of_the_operators_group_is_refused_on_the_next_poll():
    user, client = _polling_operator()

    user.groups.remove(Group.objects.get(name="operators"))

    assert client.get("/ops/live").status_code == 403


@pytest.mark.django_db
def test_a_permission_taken_from_the_operators_group_refuses_its_members_on_the_next_poll():
    _, client = _polling_operator()

    Group.objects.get(name="operators").permissions.remove(Permission.objects.get(codename="view_console"))

    assert client.get("/ops/live").status_code == 403


@pytest.mark.django_db
def test_a_new_password_signs_the_old_session_out_on_the_next_poll():
    user, client = _polling_operator()

    user.set_password("a new and long passphrase")
    user.save()

    assert client.get("/ops/live").status_code == 302


@pytest.mark.django_db
def test_signing_out_ends_the_polling_at_once():
    _, client = _polling_operator()

    client.logout()

    assert client.get("/ops/live").status_code == 302


@pytest.mark.django_db
def test_a_change_the_model_signals_miss_locks_the_operator_out_within_the_access_cache(settings):
    settings.CONSOLE_ACCESS_CACHE = 1.0
    user, client = _polling_operator()
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)  # no signal

    still_in = client.get("/ops/live").status_code
    time.sleep(1.1)
    after = client.get("/ops/live").status_code

    assert (still_in, after) == (200, 302)


@pytest.mark.django_db
def test_with_no_access_cache_every_poll_checks_the_user(settings):
    settings.CONSOLE_ACCESS_CACHE = 0
    _, client = _polling_operator()

    with CaptureQueriesContext(connection) as queries:
        assert client.get("/ops/live").status_code == 200

    assert any("auth_user" in q["sql"] for q in queries.captured_queries)
