"""The overview's connection budget: against PostgreSQL directly, against PgBouncer's client limit behind it."""

from __future__ import annotations

from apps.telemetry.aggregate import _budget


def test_directly_the_pools_count_against_postgresqls_connections(settings):
    settings.DB_PGBOUNCER = False

    budget = _budget(90, {"max_connections": 100, "reserved": 3})

    assert (budget["limit"], budget["headroom"]) == ("PostgreSQL", 7)


def test_behind_pgbouncer_the_pools_count_against_its_max_client_conn(settings):
    settings.DB_PGBOUNCER, settings.PGBOUNCER_MAX_CLIENT_CONN = True, 500

    budget = _budget(300, {"max_connections": 100, "reserved": 3})

    assert (budget["limit"], budget["max_connections"], budget["reserved"], budget["headroom"]) == (
        "PgBouncer",
        500,
        0,
        200,
    )
