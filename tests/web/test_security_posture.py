"""Production settings (the tests run with DEBUG off) as a browser sees them."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from tests.factories import StaffUserFactory
from tests.support.processes import ROOT


def test_an_https_answer_tells_browsers_to_stay_on_https_for_a_year_with_subdomains(client):
    response = client.get("/health", secure=True)

    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"


@pytest.mark.django_db
def test_the_csrf_and_session_cookies_travel_over_https_only_and_the_session_hides_from_scripts():
    user = StaffUserFactory()
    user.set_password("correct horse battery staple")
    user.save()
    client = Client()

    csrf = client.get("/admin/login/", secure=True).cookies["csrftoken"]
    login = client.post(
        "/admin/login/", {"username": user.username, "password": "correct horse battery staple"}, secure=True
    )
    session = login.cookies[settings.SESSION_COOKIE_NAME]

    assert login.status_code == 302
    assert csrf["secure"] is True
    assert (session["secure"], session["httponly"]) == (True, True)


def test_every_silenced_system_check_is_justified_in_the_docs():
    docs = (ROOT / "docs" / "architecture.md").read_text()

    for check_id in settings.SILENCED_SYSTEM_CHECKS:
        assert f"`{check_id}`" in docs, f"{check_id} is silenced without a reason in docs/architecture.md"
