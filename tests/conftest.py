from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import StaffUserFactory, UserFactory


@pytest.fixture
def staff_client(db) -> Client:
    client = Client()
    client.force_login(StaffUserFactory())
    return client


@pytest.fixture
def member_client(db) -> Client:
    """A logged-in user who is not staff."""
    client = Client()
    client.force_login(UserFactory())
    return client
