from __future__ import annotations

import uuid

import pytest
from django.test import Client

from lib import http

API_TOKEN = "test-api-token-0123456789"


@pytest.fixture(autouse=True)
def isolated_cache(settings) -> None:
    """The test's own cache keys: database ids repeat across runs that share one Redis."""
    settings.CACHES = {"default": {**settings.CACHES["default"], "KEY_PREFIX": f"test-cache:{uuid.uuid4().hex}"}}


@pytest.fixture
def api_client(settings) -> Client:
    settings.API_TOKENS = [API_TOKEN]
    return Client(headers={"Authorization": f"Bearer {API_TOKEN}"})


@pytest.fixture
def provider(sandbox_provider, settings):
    """The sandbox provider, wired in as the payments target with a short read timeout."""
    settings.PAYMENT_PROVIDER_URL = sandbox_provider.url
    settings.HTTP_TARGETS = {
        **settings.HTTP_TARGETS,
        "payment_provider": {
            **settings.HTTP_TARGETS["payment_provider"],
            "base_url": sandbox_provider.url,
            "read_timeout": 1.0,
            "retries": 0,
        },
    }
    http.reset_clients()
    yield sandbox_provider
    http.reset_clients()
