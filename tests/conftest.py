from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from django.core.management import call_command
from django.test import Client

from tests.factories import StaffUserFactory, UserFactory

pytest_plugins = [
    "tests.support.markers",  # a test that starts a process must be marked slow
    "tests.support.brokers",  # redis_broker_only: skipped, with its reason, on RabbitMQ
    "tests.support.workers",  # isolated_broker, start_worker, start_beat, start_relay
    "tests.support.provider",  # sandbox_provider: the sandbox payment provider, a real server
    "tests.support.realtime",  # realtime_namespace: a test's own Redis namespaces for realtime
    "tests.support.seeded",  # seeded_platform: module-scoped data shared by query-plan tests
]


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


@pytest.fixture(scope="session", autouse=True)
def collected_static() -> None:
    """Tests run with production settings, whose static storage serves collected, hashed files."""
    call_command("collectstatic", "--no-input", verbosity=0)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings) -> None:
    """Full-strength PBKDF2 costs ~0.5 s a login; tests check access, not hashing."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def isolated_rate_limits(settings) -> None:
    """Each test counts against its own rate-limit keys: concurrent test runs share one Redis."""
    settings.RATE_LIMIT_KEY_PREFIX = f"test-rl:{uuid.uuid4().hex}"


@pytest.fixture(autouse=True)
def isolated_breakers(settings) -> None:
    """Each test has its own circuit breakers: concurrent test runs share one Redis."""
    settings.HTTP_BREAKER_KEY_PREFIX = f"test-breaker:{uuid.uuid4().hex}"


@pytest.fixture(autouse=True)
def isolated_telemetry(settings) -> None:
    """Each test reads and writes its own process snapshots and overview cache: concurrent test runs share one Redis."""
    settings.TELEMETRY_KEY_PREFIX = f"test-telemetry:{uuid.uuid4().hex}"


@pytest.fixture(autouse=True)
def outbox_rows_deleted_at_once(settings) -> Iterator[None]:
    """In-process tests delete a published outbox row right after its publish, as before batching; the batch
    (a thread per process, OUTBOX_FORGET_INTERVAL) has its own tests, whose thread ends with them.
    Processes the tests start batch as in production."""
    from apps.outbox.services import _published

    settings.OUTBOX_FORGET_INTERVAL = 0
    yield
    _published.discard()
    _published.stop()


@pytest.fixture(autouse=True)
def timeline_flushed_by_the_test(settings) -> Iterator[None]:
    """In-process tests start no timeline flusher: a test that reads buffered events calls timeline_flush(),
    on its own connection, so the rows roll back with it. Processes the tests start batch as in production."""
    from apps.timeline.recorder import timeline_discard, timeline_stop

    settings.TIMELINE_FLUSH_INTERVAL = 0
    timeline_discard()
    yield
    timeline_discard()
    timeline_stop()
