"""No prepared statements behind PgBouncer in transaction mode: a prepared statement lives in one server
session, which the next transaction may not get (docs/pgbouncer.md)."""

from __future__ import annotations

import psycopg
import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction

from tests.pgbouncer.conftest import single_server_client


def test_a_client_that_prepares_statements_breaks_on_a_shared_server_connection():
    """The failure the settings prevent, shown with psycopg's own default cursor and an eager threshold."""
    eager = {"prepare_threshold": 0, "cursor_factory": psycopg.Cursor}
    first, second = single_server_client(**eager), single_server_client(**eager)
    try:
        first.execute("SELECT %s::int", [1])
        with pytest.raises(psycopg.errors.DuplicatePreparedStatement):
            second.execute("SELECT %s::int", [1])
    finally:
        second.execute("DEALLOCATE ALL")
        first.close()
        second.close()


def test_djangos_clients_prepare_nothing_over_many_transactions_on_a_shared_server_connection():
    first, second = single_server_client(), single_server_client()
    try:
        for number in range(60):  # far past psycopg's default prepare_threshold (5)
            for client in (first, second):
                with client.transaction():
                    assert client.execute("SELECT %s::int + 1", [number]).fetchone()[0] == number + 1
        prepared = first.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()[0]
    finally:
        first.close()
        second.close()

    assert prepared == 0


def test_the_orm_runs_many_transactions_through_one_server_connection_without_prepared_statement_errors(
    single_server_django,
):
    users = get_user_model().objects
    with single_server_client() as other:
        for number in range(60):
            with transaction.atomic():
                assert not users.filter(username=f"nobody-{number}").exists()
            assert users.filter(pk=-number).count() == 0  # autocommit, a transaction of its own
            other.execute("SELECT count(*) FROM auth_user WHERE id = %s", [number])
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements")
        assert cursor.fetchone()[0] == 0
