from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.apiclients.services import api_client_authenticate

pytestmark = pytest.mark.django_db


def _create(*args: str) -> str:
    out = StringIO()
    call_command("create_api_client", *args, stdout=out, stderr=StringIO())
    return out.getvalue().strip()


def test_it_prints_a_token_that_authenticates_as_the_named_client():
    token = _create("--name", "billing-sync", "--scopes", "payments:read,payments:write")

    principal = api_client_authenticate(token=token)

    assert principal.name == "billing-sync"
    assert principal.scopes == {"payments:read", "payments:write"}


def test_it_refuses_an_unknown_scope():
    with pytest.raises(CommandError, match="payments:everything"):
        _create("--name", "billing-sync", "--scopes", "payments:everything")


def test_it_refuses_a_name_already_taken():
    _create("--name", "billing-sync", "--scopes", "payments:read")

    with pytest.raises(CommandError, match="already exists"):
        _create("--name", "billing-sync", "--scopes", "payments:read")
