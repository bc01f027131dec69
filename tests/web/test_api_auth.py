"""Who may call the JSON API: named clients by scope, env bootstrap tokens, staff sessions by permission."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from django.utils import timezone

from apps.apiclients.models import ApiClient, ApiScope
from apps.apiclients.services import api_client_revoke
from apps.web.api import BearerToken
from tests.apiclients.factories import ApiClientFactory, bearer
from tests.factories import PaymentFactory, UserFactory
from tests.support.logs import logged_events

pytestmark = pytest.mark.django_db


def _read(client: Client, payment_id: int, **headers: str):
    return client.get(f"/api/payments/{payment_id}", headers=headers)


def _refund(client: Client, payment_id: int, **headers: str):
    return client.post(
        f"/api/payments/{payment_id}/status",
        data={"status": "refunded"},
        content_type="application/json",
        headers=headers,
    )


@pytest.fixture
def payment():
    return PaymentFactory(status="succeeded")


def test_a_token_with_the_read_scope_reads_a_payment(client, payment):
    api_client = ApiClientFactory(scopes=["payments:read"])

    response = _read(client, payment.id, **bearer(api_client.token))

    assert response.status_code == 200
    assert response.json()["id"] == payment.id


def test_a_token_without_the_write_scope_gets_a_403_naming_the_scope(client, payment):
    api_client = ApiClientFactory(scopes=["payments:read"])

    response = _refund(client, payment.id, **bearer(api_client.token))

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "insufficient_scope"
    assert response.json()["error"]["scope"] == "payments:write"
    assert 'scope="payments:write"' in response["WWW-Authenticate"]
    payment.refresh_from_db()
    assert payment.status == "succeeded"


def test_a_token_with_the_write_scope_may_write(client, payment):
    api_client = ApiClientFactory(scopes=["payments:write"])

    response = _refund(client, payment.id, **bearer(api_client.token))

    assert response.status_code == 200


def test_a_token_without_the_read_scope_may_not_read(client, payment):
    api_client = ApiClientFactory(scopes=["payments:write"])

    response = _read(client, payment.id, **bearer(api_client.token))

    assert response.status_code == 403
    assert response.json()["error"]["scope"] == "payments:read"


def test_a_revoked_token_gets_a_401_saying_so(client, payment):
    api_client = ApiClientFactory()
    api_client_revoke(client_id=api_client.id)

    response = _read(client, payment.id, **bearer(api_client.token))

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_revoked"
    assert response["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def test_an_expired_token_gets_a_401_saying_so(client, payment):
    api_client = ApiClientFactory(expires_at=timezone.now() - timedelta(minutes=1))

    response = _read(client, payment.id, **bearer(api_client.token))

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_expired"


def test_an_unknown_token_gets_a_plain_401(client, payment):
    response = _read(client, payment.id, **bearer("opc_made-up"))

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


def test_a_request_records_when_the_client_was_last_used(client, payment):
    api_client = ApiClientFactory()

    _read(client, payment.id, **bearer(api_client.token))

    assert ApiClient.objects.get(id=api_client.id).last_used_at is not None


def test_an_env_bootstrap_token_may_read_and_write(client, settings, payment):
    settings.API_TOKENS = ["bootstrap-token-0123456789"]

    assert _read(client, payment.id, **bearer("bootstrap-token-0123456789")).status_code == 200
    assert _refund(client, payment.id, **bearer("bootstrap-token-0123456789")).status_code == 200


def test_a_refused_token_is_not_rescued_by_a_staff_session(staff_client, payment):
    response = _read(staff_client, payment.id, **bearer("opc_made-up"))

    assert response.status_code == 401


def test_a_staff_user_without_the_view_permission_gets_a_403(client, payment):
    client.force_login(UserFactory(is_staff=True))

    response = _read(client, payment.id)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert response.json()["error"]["permission"] == "payments.view_payment"


def test_a_staff_user_with_the_view_permission_reads_payments(client, payment):
    user = UserFactory(is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_payment", content_type__app_label="payments"))
    client.force_login(user)

    assert _read(client, payment.id).status_code == 200
    assert client.get(f"/api/students/{payment.student_id}/payments", {"status": "succeeded"}).status_code == 200


def test_a_superuser_reads_payments(staff_client, payment):
    assert _read(staff_client, payment.id).status_code == 200


def test_a_logged_in_user_who_is_not_staff_gets_a_401(member_client, payment):
    assert _read(member_client, payment.id).status_code == 401


def test_an_endpoint_must_name_a_known_scope():
    with pytest.raises(ImproperlyConfigured, match="needs scope="):
        BearerToken(scope="payments:everything")


@pytest.mark.urls("tests.web.urls_api")
def test_every_log_line_of_a_request_names_the_client(client, caplog):
    api_client = ApiClientFactory(name="billing-sync")

    with caplog.at_level(logging.INFO):
        response = client.get("/whoami", headers=bearer(api_client.token))

    assert response.json()["client"] == "billing-sync"
    [line] = logged_events(caplog, "whoami_answered")
    assert (line["actor"], line["actor_kind"]) == ("billing-sync", "api_client")


@pytest.mark.urls("tests.web.urls_api")
def test_every_log_line_of_a_staff_request_names_the_user(staff_client, caplog):
    with caplog.at_level(logging.INFO):
        response = staff_client.get("/whoami")

    assert response.json()["client"] is None
    [line] = logged_events(caplog, "whoami_answered")
    assert line["actor"] == response.json()["user"]
    assert line["actor_kind"] == "staff"


@pytest.mark.urls("tests.web.urls_api")
def test_a_refused_scope_is_logged_naming_the_client(client, caplog):
    api_client = ApiClientFactory(name="reporting", scopes=["payments:write"])

    client.get("/whoami", headers=bearer(api_client.token))

    [line] = logged_events(caplog, "api_scope_refused")
    assert (line["actor"], line["scope"]) == ("reporting", "payments:read")


def test_the_scope_the_schema_names_for_each_operation_is_the_one_the_server_enforces(client):
    schema = client.get("/api/schema").json()
    scoped = [
        (method, path, operation["x-scope"])
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if "x-scope" in operation
    ]

    for method, path, scope in scoped:
        api_client = ApiClientFactory(scopes=[other for other in ApiScope.values if other != scope])
        url = path.replace("{payment_id}", "1").replace("{student_id}", "1")
        response = client.generic(method.upper(), url, headers=bearer(api_client.token))
        assert (response.status_code, response.json()["error"].get("scope")) == (403, scope), (method, path)
    assert len(scoped) == 4
