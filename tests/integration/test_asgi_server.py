"""The console served by a real ASGI server process, as `make run` serves it."""

from __future__ import annotations

import pytest
import requests
from django.test import Client

from tests.factories import StaffUserFactory
from tests.support.servers import asgi_server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), asgi_server() as base:
        yield base


def test_liveness_answers_over_http(server):
    response = requests.get(f"{server}/health", timeout=5)

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_instance_details_name_the_web_process_to_staff(server):
    staff = Client()
    staff.force_login(StaffUserFactory())

    response = requests.get(
        f"{server}/ops/instance", cookies={"sessionid": staff.cookies["sessionid"].value}, timeout=5
    )

    assert response.status_code == 200
    assert response.json()["process"] == "web"


def test_readiness_answers_over_http(server):
    response = requests.get(f"{server}/ready", timeout=5)

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ok"


def test_the_admin_login_page_is_served_with_its_stylesheets(server):
    page = requests.get(f"{server}/admin/login/", timeout=5)
    stylesheet = requests.get(f"{server}/static/admin/css/base.css", timeout=5)

    assert page.status_code == 200
    assert "ops-console" in page.text
    assert stylesheet.status_code == 200


def test_the_admin_requires_a_login(server):
    response = requests.get(f"{server}/admin/", timeout=5, allow_redirects=False)

    assert response.status_code == 302
    assert "/admin/login/" in response.headers["Location"]
