from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection
from django.utils import timezone

from apps.apiclients.models import ApiClient
from apps.apiclients.services import (
    TokenRefused,
    api_client_authenticate,
    api_client_create,
    api_client_revoke,
    api_client_touch,
)
from tests.apiclients.factories import ApiClientFactory

pytestmark = pytest.mark.django_db


def _stored_text() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT row_to_json(api_clients)::text FROM api_clients")
        return " ".join(row[0] for row in cursor.fetchall())


def test_the_token_is_stored_only_as_its_sha256_digest():
    issued = api_client_create(name="billing-sync", scopes=["payments:read"])

    stored = _stored_text()
    assert issued.token not in stored
    assert issued.token[12:] not in stored
    assert len(issued.client.token_digest) == 64


def test_two_clients_never_share_a_token():
    first = api_client_create(name="first", scopes=["payments:read"])
    second = api_client_create(name="second", scopes=["payments:read"])

    assert first.token != second.token


def test_a_client_name_is_unique():
    api_client_create(name="billing-sync", scopes=["payments:read"])

    with pytest.raises(ValidationError, match="Name already exists"):
        api_client_create(name="billing-sync", scopes=["payments:write"])


@pytest.mark.parametrize("scopes", [[], ["payments:delete"]], ids=["none", "unknown"])
def test_the_database_refuses_scopes_outside_the_fixed_set(scopes):
    client = ApiClientFactory()

    with pytest.raises(IntegrityError, match="api_clients_scopes_valid"):
        ApiClient.objects.filter(id=client.id).update(scopes=scopes)


def test_a_valid_token_names_its_client_and_scopes():
    issued = api_client_create(name="billing-sync", scopes=["payments:write", "payments:read"])

    principal = api_client_authenticate(token=issued.token)

    assert principal.name == "billing-sync"
    assert principal.scopes == {"payments:read", "payments:write"}
    assert principal.client_id == issued.client.id


def test_an_unknown_token_is_refused_without_naming_anyone():
    with pytest.raises(TokenRefused) as refused:
        api_client_authenticate(token="opc_not-a-token")

    assert (refused.value.code, refused.value.client_name) == ("unauthenticated", None)


def test_a_revoked_token_is_refused():
    client = ApiClientFactory()
    api_client_revoke(client_id=client.id)

    with pytest.raises(TokenRefused, match="token_revoked"):
        api_client_authenticate(token=client.token)


def test_revoking_twice_changes_nothing_the_second_time():
    client = ApiClientFactory()
    api_client_revoke(client_id=client.id)
    revoked_at = ApiClient.objects.get(id=client.id).revoked_at

    assert api_client_revoke(client_id=client.id) is False
    assert ApiClient.objects.get(id=client.id).revoked_at == revoked_at


def test_an_expired_token_is_refused():
    client = ApiClientFactory(expires_at=timezone.now() - timedelta(seconds=1))

    with pytest.raises(TokenRefused, match="token_expired"):
        api_client_authenticate(token=client.token)


def test_a_use_is_recorded_as_last_used():
    client = ApiClientFactory()

    api_client_authenticate(token=client.token)

    assert ApiClient.objects.get(id=client.id).last_used_at is not None


def test_last_used_is_written_at_most_once_a_minute(django_assert_num_queries):
    client = ApiClientFactory()
    api_client_authenticate(token=client.token)
    first_use = ApiClient.objects.get(id=client.id).last_used_at

    with django_assert_num_queries(1):  # the lookup only: no UPDATE
        api_client_authenticate(token=client.token)

    assert ApiClient.objects.get(id=client.id).last_used_at == first_use


def test_two_touches_in_the_same_minute_write_once():
    client = ApiClientFactory()
    now = timezone.now()

    assert api_client_touch(client_id=client.id, now=now) is True
    assert api_client_touch(client_id=client.id, now=now + timedelta(seconds=30)) is False
    assert api_client_touch(client_id=client.id, now=now + timedelta(seconds=61)) is True


def test_an_env_bootstrap_token_is_an_all_scopes_client_named_by_its_position(settings):
    settings.API_TOKENS = ["first-bootstrap-token", "second-bootstrap-token"]

    principal = api_client_authenticate(token="second-bootstrap-token")

    assert principal.name == "env:bootstrap-2"
    assert principal.scopes == {"payments:read", "payments:write", "metrics:read"}
    assert principal.client_id is None
