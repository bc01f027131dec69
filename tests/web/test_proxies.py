"""Forwarded headers are believed from TRUSTED_PROXIES only, in the app and through the real server."""

from __future__ import annotations

import re
import uuid

import pytest
import requests
from django.test import RequestFactory

from apps.web.proxies import client_address
from tests.factories import StaffUserFactory
from tests.support.processes import SESSION_RATE_LIMIT_PREFIX
from tests.support.servers import asgi_server

LOGIN_PATH = "/admin/login/"
PASSWORD = "correct-horse-battery-staple-9"


def _request(**meta: str):
    return RequestFactory().get("/", **meta)


# --- client_address ----------------------------------------------------------------------


def test_x_forwarded_for_is_ignored_when_no_proxy_is_trusted(settings):
    settings.TRUSTED_PROXIES = []

    address = client_address(_request(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9"))

    assert address == "127.0.0.1"


def test_x_forwarded_for_is_ignored_from_a_peer_that_is_not_a_trusted_proxy(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]

    address = client_address(_request(REMOTE_ADDR="192.0.2.7", HTTP_X_FORWARDED_FOR="203.0.113.9"))

    assert address == "192.0.2.7"


def test_the_right_most_hop_that_is_not_a_trusted_proxy_is_the_client(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    forged_by_the_client = "198.51.100.1"

    address = client_address(
        _request(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=f"{forged_by_the_client}, 203.0.113.9, 10.0.0.1")
    )

    assert address == "203.0.113.9"


def test_a_trusted_proxy_that_forwards_no_address_is_itself_the_client(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.2"]

    assert client_address(_request(REMOTE_ADDR="10.0.0.2")) == "10.0.0.2"


def test_a_chain_of_trusted_proxies_only_gives_its_left_most_hop(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]

    assert client_address(_request(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="10.0.0.9, 10.0.0.1")) == "10.0.0.9"


# --- X-Forwarded-Proto in the app ------------------------------------------------------------


def _https_redirect_settings(settings, trusted: list[str]) -> None:
    settings.SECURE_SSL_REDIRECT = True
    settings.TRUSTED_PROXIES = trusted
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")


def test_x_forwarded_proto_from_an_untrusted_peer_still_gets_the_https_redirect(client, settings):
    _https_redirect_settings(settings, trusted=["10.0.0.0/8"])

    response = client.get(LOGIN_PATH, headers={"X-Forwarded-Proto": "https"}, REMOTE_ADDR="192.0.2.7")

    assert response.status_code == 301
    assert response["Location"].startswith("https://")


def test_x_forwarded_proto_from_a_trusted_proxy_counts_as_https(client, settings):
    _https_redirect_settings(settings, trusted=["10.0.0.0/8"])

    response = client.get(LOGIN_PATH, headers={"X-Forwarded-Proto": "https"}, REMOTE_ADDR="10.0.0.2")

    assert response.status_code == 200


# --- Through the real server ---------------------------------------------------------------


def _server_env(**overrides: str) -> dict[str, str]:
    return {
        "RATE_LIMIT_LOGIN": "3/m",
        "RATE_LIMIT_KEY_PREFIX": f"{SESSION_RATE_LIMIT_PREFIX}:{uuid.uuid4().hex}",
        "CSRF_COOKIE_SECURE": "0",  # the test talks plain HTTP
        **overrides,
    }


def _log_in(base: str, *, username: str, password: str, forwarded_for: str) -> requests.Response:
    session = requests.Session()
    session.headers["X-Forwarded-For"] = forwarded_for
    page = session.get(f"{base}{LOGIN_PATH}", timeout=5)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
    form = {"csrfmiddlewaretoken": token, "username": username, "password": password}
    return session.post(f"{base}{LOGIN_PATH}", data=form, timeout=5, allow_redirects=False)


def _rotating_guesses(base: str, username: str) -> list[int]:
    return [
        _log_in(base, username=username, password="wrong", forwarded_for=f"203.0.113.{n}").status_code
        for n in range(1, 5)
    ]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_rotating_x_forwarded_for_from_an_untrusted_peer_does_not_escape_the_login_limit():
    staff = StaffUserFactory(password=PASSWORD)
    with asgi_server(**_server_env()) as base:
        guesses = _rotating_guesses(base, staff.username)
        correct = _log_in(base, username=staff.username, password=PASSWORD, forwarded_for="203.0.113.99")

    assert guesses == [200, 200, 200, 429]
    assert correct.status_code == 429  # still the one address the server saw, still at its limit


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_x_forwarded_for_from_a_trusted_proxy_names_the_client_the_login_limit_counts():
    staff = StaffUserFactory(password=PASSWORD)
    with asgi_server(**_server_env(TRUSTED_PROXIES="127.0.0.1")) as base:
        guesses = _rotating_guesses(base, staff.username)
        same_client = [
            _log_in(base, username=staff.username, password="wrong", forwarded_for="198.51.100.1").status_code
            for _ in range(4)
        ]

    assert guesses == [200, 200, 200, 200]  # four clients behind our proxy, one guess each
    assert same_client == [200, 200, 200, 429]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_x_forwarded_proto_from_an_untrusted_peer_gets_the_https_redirect_from_the_server():
    with asgi_server(**_server_env(SECURE_SSL_REDIRECT="1")) as base:
        response = requests.get(
            f"{base}{LOGIN_PATH}", headers={"X-Forwarded-Proto": "https"}, timeout=5, allow_redirects=False
        )

    assert response.status_code == 301
    assert response.headers["Location"].startswith("https://")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_x_forwarded_proto_from_a_trusted_proxy_is_served_by_the_server():
    with asgi_server(**_server_env(SECURE_SSL_REDIRECT="1", TRUSTED_PROXIES="127.0.0.1")) as base:
        response = requests.get(
            f"{base}{LOGIN_PATH}", headers={"X-Forwarded-Proto": "https"}, timeout=5, allow_redirects=False
        )

    assert response.status_code == 200
