"""Every path under /api/ answers in the one JSON error shape, and /api/docs is for staff only."""

from __future__ import annotations

import re

import pytest

from tests.apiclients.factories import ApiClientFactory, bearer

pytestmark = pytest.mark.django_db


def _assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == code
    assert response.json()["correlation_id"] == response["X-Correlation-ID"]


@pytest.mark.parametrize(
    "path", ["/api/", "/api/payments/null,null", "/api/payments/$/status", "/api/payments/", "/api/nothing/here"]
)
def test_a_path_no_route_matches_is_a_json_404_even_in_debug(client, settings, path):
    settings.DEBUG = True  # Django's own 404 page is HTML, and `make run` runs in DEBUG

    _assert_error(client.get(path), 404, "not_found")


def test_a_post_to_a_path_no_route_matches_is_a_json_404_not_a_csrf_page(client):
    client = type(client)(enforce_csrf_checks=True)

    _assert_error(client.post("/api/payments/null,null/status", data={}), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [("get", "/api/payments", "POST"), ("delete", "/api/payments/1", "GET"), ("post", "/api/schema", "GET, HEAD")],
)
def test_a_wrong_method_is_a_json_405_naming_the_allowed_ones(client, method, path, allowed):
    response = getattr(client, method)(path, headers=bearer(ApiClientFactory().token))

    _assert_error(response, 405, "method_not_allowed")
    assert response["Allow"] == allowed


def test_a_body_that_is_not_json_is_a_415_on_the_webhook_too(client):
    response = client.post("/api/payments/webhook", data="a=b", content_type="text/plain", headers={})

    assert response.status_code in (400, 415)  # the signature is checked first: 400 without one
    signed = client.post(
        "/api/payments/webhook",
        data=b"{}",
        content_type="text/plain",
        headers={"X-Sandbox-Signature": _signature(b"{}")},
    )
    _assert_error(signed, 415, "unsupported_media_type")


def _signature(raw: bytes) -> str:
    from django.conf import settings

    from apps.payments.webhooks import webhook_sign

    return webhook_sign(body=raw, secret=settings.PAYMENT_WEBHOOK_SECRET)


def test_the_schema_is_served_to_anyone(client):
    response = client.get("/api/schema")

    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.")


def test_the_docs_page_sends_anonymous_users_to_log_in(client):
    response = client.get("/api/docs")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_the_docs_page_is_refused_to_users_who_are_not_staff(member_client):
    _assert_error(member_client.get("/api/docs"), 403, "permission_denied")


def test_the_docs_page_loads_only_our_own_static_files(staff_client):
    response = staff_client.get("/api/docs")

    html = response.content.decode()
    assert response.status_code == 200
    assert "/api/schema" in html
    assert not re.search(r"(src|href)=[\"']?(https?:)?//", html), "the docs page must work offline"
    for url in re.findall(r"(?:src|href)=[\"']([^\"']+)[\"']", html):
        assert url.startswith("/static/"), url
        assert staff_client.get(url).status_code == 200, url
