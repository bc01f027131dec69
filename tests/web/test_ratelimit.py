"""Rate limits counted in Redis, shared by every process, announced in headers."""

from __future__ import annotations

import logging
import re
import time
import uuid

import pytest
import requests
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory

from apps.web.ratelimit import Rate, client_ip, rate_limit, rate_limit_hit
from lib import metrics
from tests.support.logs import logged_events
from tests.support.processes import child_env, run_manage
from tests.support.servers import asgi_server

API_PATH = "/api/no-such-endpoint"
LOGIN_PATH = "/admin/login/"


def _key() -> str:
    return f"tests:rl:{uuid.uuid4().hex}"


def _hit(key: str, rate: Rate):
    return rate_limit_hit(key=key, rate=rate, scope="tests")


def _attempt_login(client: Client, path: str = LOGIN_PATH) -> HttpResponse:
    return client.post(path, {"username": "nobody", "password": "wrong"})


def _hello(request: HttpRequest) -> HttpResponse:
    return HttpResponse("hello")


def _request(user=None, **meta: str) -> HttpRequest:
    request = RequestFactory().get("/reports/", **meta)
    request.user = user or AnonymousUser()
    return request


# --- Rates ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rate"),
    [("10/s", Rate(10, 1)), ("120/m", Rate(120, 60)), ("1000/h", Rate(1000, 3600)), ("5/d", Rate(5, 86400))],
)
def test_a_rate_is_a_count_per_second_minute_hour_or_day(text, rate):
    assert Rate.parse(text, name="RATE_LIMIT_API") == rate


@pytest.mark.parametrize("text", ["10/minute", "10/M", "0/m", "-1/m", "10", "1.5/s", "10 /m", "/m", "10/m\n"])
def test_a_malformed_rate_is_refused_naming_its_setting(text):
    with pytest.raises(ImproperlyConfigured, match="RATE_LIMIT_API must be a rate like 120/m"):
        Rate.parse(text, name="RATE_LIMIT_API")


@pytest.mark.slow
def test_a_bad_rate_in_the_environment_stops_start_up():
    result = run_manage("check", env=child_env(RATE_LIMIT_LOGIN="10/minute"))

    assert result.returncode != 0
    assert "ImproperlyConfigured: RATE_LIMIT_LOGIN must be a rate like 120/m" in result.stderr


def test_a_view_with_a_bad_rate_is_refused_when_it_is_defined():
    with pytest.raises(ImproperlyConfigured, match="scope='exports'"):
        rate_limit("ten per minute", key="user_or_ip", scope="exports")


def test_a_view_with_an_unknown_key_kind_is_refused_when_it_is_defined():
    with pytest.raises(ImproperlyConfigured, match="key must be one of ip, user, user_or_ip"):
        rate_limit("10/m", key="email", scope="exports")


# --- The counter ------------------------------------------------------------------


def test_remaining_counts_down_with_each_hit():
    key = _key()

    statuses = [_hit(key, Rate(3, 60)) for _ in range(3)]

    assert [status.remaining for status in statuses] == [2, 1, 0]
    assert all(status.allowed for status in statuses)


def test_the_hit_past_the_limit_is_refused_with_the_time_until_the_window_resets():
    key = _key()
    _hit(key, Rate(2, 60))
    _hit(key, Rate(2, 60))

    status = _hit(key, Rate(2, 60))

    assert not status.allowed
    assert status.remaining == 0
    assert 0 < status.reset_seconds <= 60


def test_the_window_resets_after_its_period_even_while_refused_hits_keep_coming():
    key = _key()
    _hit(key, Rate(1, 1))
    refused = _hit(key, Rate(1, 1))
    time.sleep(1.05)

    status = _hit(key, Rate(1, 1))

    assert not refused.allowed
    assert status.allowed


# --- The middleware ----------------------------------------------------------------


@pytest.mark.django_db
def test_a_client_over_the_login_limit_gets_429_with_retry_after_and_rate_limit_headers(settings):
    settings.RATE_LIMIT_LOGIN = "2/m"
    client = Client()
    _attempt_login(client)
    _attempt_login(client)

    response = _attempt_login(client)

    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"
    assert 0 < int(response["Retry-After"]) <= 60
    assert response["X-RateLimit-Limit"] == "2"
    assert response["X-RateLimit-Remaining"] == "0"
    assert response["X-RateLimit-Reset"] == response["Retry-After"]


@pytest.mark.django_db
def test_an_allowed_login_attempt_carries_the_rate_limit_headers(settings):
    settings.RATE_LIMIT_LOGIN = "2/m"

    response = _attempt_login(Client())

    assert response.status_code == 200
    assert response["X-RateLimit-Limit"] == "2"
    assert response["X-RateLimit-Remaining"] == "1"
    assert 0 < int(response["X-RateLimit-Reset"]) <= 60


@pytest.mark.django_db
def test_showing_the_login_page_is_not_limited(client):
    response = client.get(LOGIN_PATH)

    assert response.status_code == 200
    assert "X-RateLimit-Limit" not in response


@pytest.mark.django_db
def test_a_console_login_path_can_be_added_to_the_login_limit(settings):
    settings.RATE_LIMIT_LOGIN_PATHS = [LOGIN_PATH, "/console/login/"]
    settings.RATE_LIMIT_LOGIN = "3/m"

    response = _attempt_login(Client(), "/console/login/")

    assert response["X-RateLimit-Limit"] == "3"


@pytest.mark.django_db
def test_every_path_under_the_api_is_limited(settings):
    settings.RATE_LIMIT_API = "5/m"

    response = Client().get(API_PATH)

    assert response["X-RateLimit-Limit"] == "5"
    assert response["X-RateLimit-Remaining"] == "4"


@pytest.mark.django_db
def test_paths_outside_the_api_and_the_login_are_not_limited(client):
    response = client.get("/health")

    assert "X-RateLimit-Limit" not in response


@pytest.mark.django_db
def test_a_signed_in_users_api_calls_do_not_spend_the_budget_of_anonymous_calls_from_the_same_address(
    settings, staff_client
):
    settings.RATE_LIMIT_API = "5/m"
    staff_client.get(API_PATH)
    staff_client.get(API_PATH)

    response = Client().get(API_PATH)

    assert response["X-RateLimit-Remaining"] == "4"


@pytest.mark.django_db
def test_rate_limiting_can_be_switched_off(settings):
    settings.RATE_LIMIT_ENABLED = False

    response = _attempt_login(Client())

    assert response.status_code == 200
    assert "X-RateLimit-Limit" not in response


@pytest.mark.django_db
def test_a_refusal_is_logged_and_counted(settings, caplog):
    settings.RATE_LIMIT_LOGIN = "1/m"
    client = Client()
    _attempt_login(client)
    before = metrics.counter_value("rate_limit_rejections", scope="login")

    with caplog.at_level(logging.INFO, logger="apps.web.ratelimit"):
        _attempt_login(client)

    [event] = logged_events(caplog, "rate_limited")
    assert event["scope"] == "login"
    assert event["key_kind"] == "ip"
    assert event["client"] == "127.0.0.1"
    assert metrics.counter_value("rate_limit_rejections", scope="login") == before + 1


# --- The decorator -------------------------------------------------------------------


def test_a_limited_view_answers_429_once_its_own_limit_is_spent():
    view = rate_limit("1/m", key="ip", scope="tests")(_hello)
    view(_request())

    response = view(_request())

    assert response.status_code == 429


def test_a_per_user_limit_leaves_anonymous_requests_alone():
    view = rate_limit("1/m", key="user", scope="tests")(_hello)

    response = view(_request())

    assert response.status_code == 200
    assert "X-RateLimit-Limit" not in response


# --- Client addresses ------------------------------------------------------------------


def test_x_forwarded_for_from_an_untrusted_peer_does_not_change_the_key(settings):
    settings.TRUSTED_PROXIES = []

    address = client_ip(_request(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9"))

    assert address == "10.0.0.1"


def test_x_forwarded_for_from_a_trusted_proxy_is_counted(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.1"]

    address = client_ip(_request(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.9"))

    assert address == "203.0.113.9"


def test_ipv6_clients_count_per_64_block():
    first = client_ip(_request(REMOTE_ADDR="2001:db8:1:2::1"))
    second = client_ip(_request(REMOTE_ADDR="2001:db8:1:2:ffff::9"))

    assert first == second == "2001:db8:1:2::/64"


def test_ipv4_clients_of_a_dual_stack_server_count_by_their_ipv4_address():
    assert client_ip(_request(REMOTE_ADDR="::ffff:203.0.113.9")) == "203.0.113.9"


# --- Shared by every process ----------------------------------------------------------


def _attempt_login_over_http(base: str) -> requests.Response:
    session = requests.Session()
    page = session.get(f"{base}{LOGIN_PATH}", timeout=5)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
    form = {"csrfmiddlewaretoken": token, "username": "nobody", "password": "wrong"}
    return session.post(f"{base}{LOGIN_PATH}", data=form, timeout=5)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_login_attempts_split_across_two_server_processes_share_one_limit():
    env = {
        "RATE_LIMIT_LOGIN": "4/m",
        "RATE_LIMIT_KEY_PREFIX": f"test-rl:{uuid.uuid4().hex}",
        "CSRF_COOKIE_SECURE": "0",  # the test talks plain HTTP
    }
    with asgi_server(**env) as first, asgi_server(**env) as second:
        statuses = [_attempt_login_over_http(base).status_code for base in [first, second] * 3]

    assert statuses == [200, 200, 200, 200, 429, 429]


def test_the_providers_signed_webhook_is_not_counted_against_the_api_limit(client, settings):
    settings.RATE_LIMIT_API = "1/m"

    responses = [client.post("/api/payments/webhook", data=b"{}", content_type="application/json") for _ in range(3)]

    assert [response.status_code for response in responses] == [400, 400, 400]
    assert "X-RateLimit-Limit" not in responses[0]
