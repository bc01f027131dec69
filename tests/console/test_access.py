from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.test import Client

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
