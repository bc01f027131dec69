"""These tests need a PgBouncer in transaction mode in front of the database: `make test-pgbouncer` runs them.

Under `make test` (straight to PostgreSQL) there is nothing here to prove, so they are not collected.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.db import connections

from scripts.devstack import PGBOUNCER_SINGLE_SERVER_DB

collect_ignore_glob = [] if settings.DB_PGBOUNCER else ["test_*.py"]


def single_server_client(**overrides: Any) -> psycopg.Connection[Any]:
    """A client of the database PgBouncer serves with ONE server connection, made as Django makes its own.

    Every such client shares that server connection: what one leaves on it, the next one sees.
    """
    params = {**connections["default"].get_connection_params(), "dbname": PGBOUNCER_SINGLE_SERVER_DB, **overrides}
    return psycopg.connect(**params, autocommit=True)


def statement_timeout_of_the_next_client() -> str:
    with single_server_client() as client:
        return client.execute("SHOW statement_timeout").fetchone()[0]


@pytest.fixture
def single_server_django(django_db_blocker: Any) -> Iterator[Any]:
    """Django's default connection, for one test, through the single server connection (no client pool)."""
    original = connections["default"]
    settings_dict = copy.deepcopy(original.settings_dict)
    settings_dict["NAME"] = PGBOUNCER_SINGLE_SERVER_DB
    settings_dict["OPTIONS"].pop("pool")
    swapped = original.__class__(settings_dict, alias="default")
    connections["default"] = swapped
    try:
        with django_db_blocker.unblock():
            yield swapped
    finally:
        swapped.close()
        connections["default"] = original
