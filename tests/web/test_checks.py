"""ops_console.E030: behind PgBouncer the statement timeout must come from the database role."""

from __future__ import annotations

import pytest

from apps.web.checks import _milliseconds, pgbouncer_statement_timeout_check


@pytest.mark.django_db
def test_the_check_passes_when_the_timeout_in_force_is_db_statement_timeout(settings):
    settings.DB_PGBOUNCER = True

    assert pgbouncer_statement_timeout_check(databases=["default"]) == []


@pytest.mark.django_db
def test_the_check_fails_naming_the_sql_that_fixes_it_when_the_timeout_differs(settings):
    settings.DB_PGBOUNCER = True
    settings.DB_STATEMENT_TIMEOUT += 1

    [error] = pgbouncer_statement_timeout_check(databases=["default"])

    assert error.id == "ops_console.E030"
    assert f"statement_timeout = '{settings.DB_STATEMENT_TIMEOUT}ms'" in error.hint
    assert "ALTER ROLE CURRENT_USER IN DATABASE" in error.hint


def test_the_check_asks_nothing_of_the_database_without_pgbouncer(settings):
    settings.DB_PGBOUNCER = False

    assert pgbouncer_statement_timeout_check(databases=["default"]) == []  # no django_db: a query would fail


def test_the_check_runs_only_when_the_database_checks_are_asked_for(settings):
    settings.DB_PGBOUNCER = True

    assert pgbouncer_statement_timeout_check(databases=None) == []


@pytest.mark.parametrize(
    ("shown", "milliseconds"),
    [("0", 0), ("250ms", 250), ("30s", 30_000), ("5min", 300_000), ("1h", 3_600_000), ("soon", None)],
)
def test_postgresqls_timeout_units_are_read_as_milliseconds(shown, milliseconds):
    assert _milliseconds(shown) == milliseconds
