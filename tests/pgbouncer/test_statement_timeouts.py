"""Statement timeouts behind PgBouncer in transaction mode: in force on every server connection, firing,
and never left on a server connection for the next client (docs/pgbouncer.md)."""

from __future__ import annotations

import time

import psycopg
import pytest
from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.http import HttpResponse
from django.test import RequestFactory

from apps.web.deadline import DatabaseDeadlineMiddleware
from lib.context import reset_deadline, set_deadline
from lib.db import current_statement_timeout, statement_timeout
from tests.pgbouncer.conftest import single_server_client, statement_timeout_of_the_next_client

BASE = f"{settings.DB_STATEMENT_TIMEOUT // 1000}s"  # devstack runs this suite with 10000 ms


def test_no_startup_option_is_sent_to_pgbouncer():
    params = connection.get_connection_params()

    assert "options" not in params
    assert params["prepare_threshold"] is None


def test_the_roles_statement_timeout_is_in_force_through_pgbouncer():
    assert statement_timeout_of_the_next_client() == BASE


@pytest.mark.django_db
def test_the_base_statement_timeout_fires_through_pgbouncer():
    started = time.monotonic()
    with pytest.raises(OperationalError) as cancelled, connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(%s)", [settings.DB_STATEMENT_TIMEOUT / 1000 + 5])

    assert isinstance(cancelled.value.__cause__, psycopg.errors.QueryCanceled)
    assert time.monotonic() - started < settings.DB_STATEMENT_TIMEOUT / 1000 + 4


@pytest.mark.django_db
def test_a_reports_own_timeout_fires_through_pgbouncer():
    with pytest.raises(OperationalError) as cancelled, statement_timeout(100), connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(3)")

    assert isinstance(cancelled.value.__cause__, psycopg.errors.QueryCanceled)


def test_a_session_setting_would_stay_on_the_server_connection_for_the_next_client():
    """Why nothing here may SET for the session: PgBouncer hands the server connection on as it is."""
    with single_server_client() as client:
        client.execute("SELECT set_config('statement_timeout', '1234ms', false)")
    try:
        assert statement_timeout_of_the_next_client() == "1234ms"
    finally:
        with single_server_client() as client:
            client.execute("RESET statement_timeout")  # back to the role's value


def test_a_reports_timeout_ends_with_its_transaction(single_server_django):
    with statement_timeout(60_000):
        assert current_statement_timeout() == "1min"

    assert statement_timeout_of_the_next_client() == BASE


def test_the_request_deadline_caps_statements_in_a_transaction_and_leaves_nothing_behind(single_server_django):
    seen: dict[str, str] = {}

    def view(_request):
        with transaction.atomic():
            seen["in a transaction"] = current_statement_timeout()
        seen["in autocommit"] = current_statement_timeout()
        return HttpResponse()

    token = set_deadline(2.0)
    try:
        DatabaseDeadlineMiddleware(view)(RequestFactory().get("/"))
    finally:
        reset_deadline(token)

    assert seen["in a transaction"].endswith("ms") and int(seen["in a transaction"][:-2]) <= 2000
    assert seen["in autocommit"] == BASE  # bounded by the role's timeout only: a session SET would leak
    assert statement_timeout_of_the_next_client() == BASE


def test_the_request_deadline_cancels_a_statement_in_a_transaction_through_pgbouncer(single_server_django):
    def view(_request):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(5)")
        return HttpResponse()

    token = set_deadline(0.5)
    started = time.monotonic()
    try:
        with pytest.raises(OperationalError) as cancelled:
            DatabaseDeadlineMiddleware(view)(RequestFactory().get("/"))
    finally:
        reset_deadline(token)

    assert isinstance(cancelled.value.__cause__, psycopg.errors.QueryCanceled)
    assert time.monotonic() - started < 1.5
