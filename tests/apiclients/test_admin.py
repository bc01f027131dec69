from __future__ import annotations

import re

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Permission
from django.test import Client

from apps.apiclients.models import ApiClient, token_digest
from apps.apiclients.services import api_client_authenticate
from tests.apiclients.factories import ApiClientFactory
from tests.factories import UserFactory
from tests.support.admin import changelist_query_count

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/apiclients/apiclient/"
ADD = f"{CHANGELIST}add/"


def _staff_client(*codenames: str) -> Client:
    user = UserFactory(is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="apiclients", codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


def _shown_token(content: bytes) -> str:
    return re.search(rb'value="(opc_[^"]+)"', content).group(1).decode()


def test_creating_a_client_shows_its_token_once_and_stores_only_the_digest(staff_client):
    response = staff_client.post(ADD, {"name": "billing-sync", "scopes": ["payments:read", "payments:write"]})

    token = _shown_token(response.content)
    client = ApiClient.objects.get(name="billing-sync")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert client.token_digest == token_digest(token)
    assert token.encode() not in staff_client.get(f"{CHANGELIST}{client.id}/change/").content
    assert api_client_authenticate(token=token).name == "billing-sync"


def test_the_creator_is_recorded(staff_client):
    staff_client.post(ADD, {"name": "billing-sync", "scopes": ["payments:read"]})

    assert ApiClient.objects.get(name="billing-sync").created_by.is_superuser


def test_a_client_needs_a_scope(staff_client):
    response = staff_client.post(ADD, {"name": "billing-sync"})

    assert response.status_code == 200
    assert not ApiClient.objects.exists()


def test_a_name_already_taken_is_a_form_error(staff_client):
    ApiClientFactory(name="billing-sync")

    response = staff_client.post(ADD, {"name": "billing-sync", "scopes": ["payments:read"]})

    assert b"already exists" in response.content
    assert ApiClient.objects.count() == 1


def test_revoking_asks_first(staff_client):
    client = ApiClientFactory()

    response = staff_client.post(CHANGELIST, {"action": "revoke_selected", "_selected_action": [client.id]})

    assert b"Yes, revoke" in response.content
    assert ApiClient.objects.get(id=client.id).revoked_at is None


def test_a_confirmed_revocation_refuses_the_token_and_is_in_the_admin_history(staff_client):
    client = ApiClientFactory()

    staff_client.post(
        CHANGELIST, {"action": "revoke_selected", "_selected_action": [client.id], "confirmed": "yes"}, follow=True
    )

    assert ApiClient.objects.get(id=client.id).revoked_at is not None
    entry = LogEntry.objects.get(object_id=str(client.id), action_flag=CHANGE)
    assert entry.get_change_message() == "Revoked the token."


def test_the_list_shows_scopes_state_and_last_use(staff_client):
    ApiClientFactory(name="reporting", scopes=["payments:read"])

    content = staff_client.get(CHANGELIST).content.decode()

    assert "reporting" in content
    assert "payments:read" in content
    assert "Active" in content


@pytest.mark.parametrize("state", ["active", "expired", "revoked"])
def test_the_list_filters_by_state(staff_client, state):
    assert staff_client.get(CHANGELIST, {"state": state}).status_code == 200


def test_the_changelist_runs_as_many_queries_for_60_clients_as_for_6(staff_client):
    ApiClientFactory.create_batch(6)
    few = changelist_query_count(staff_client, CHANGELIST)
    ApiClientFactory.create_batch(54)

    assert changelist_query_count(staff_client, CHANGELIST) == few


def test_clients_are_revoked_not_deleted(staff_client):
    client = ApiClientFactory()

    assert staff_client.get(f"{CHANGELIST}{client.id}/delete/").status_code == 403


def test_a_staff_user_without_the_model_permissions_is_refused():
    assert _staff_client().get(CHANGELIST).status_code == 403


def test_a_staff_user_with_the_view_permission_sees_but_cannot_revoke():
    client = ApiClientFactory()
    viewer = _staff_client("view_apiclient")

    assert viewer.get(CHANGELIST).status_code == 200
    viewer.post(CHANGELIST, {"action": "revoke_selected", "_selected_action": [client.id], "confirmed": "yes"})
    assert ApiClient.objects.get(id=client.id).revoked_at is None


def test_a_staff_user_without_the_add_permission_cannot_create():
    assert _staff_client("view_apiclient").get(ADD).status_code == 403
