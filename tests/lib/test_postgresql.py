from __future__ import annotations

import time
from typing import Any

import psycopg
import pytest
from django import conf
from django.db import OperationalError, ProgrammingError, connection
from psycopg_pool import ConnectionPool

from lib import metrics
from lib.postgresql.base import POOL_WAIT_HISTOGRAM
from tests.support.pools import HOLD_S, checked_pool, hold_then_wait, small_pool

pytestmark = pytest.mark.django_db(transaction=True)

DEFAULT = (("alias", "default"),)


def _waits() -> list[float]:
    return metrics.histograms(POOL_WAIT_HISTOGRAM).get(DEFAULT) or [0.0] * (len(metrics.LATENCY_BUCKETS_MS) + 2)


def test_a_checkout_waiting_for_the_only_connection_is_counted_with_its_wait():
    before = _waits()

    with small_pool(max_size=1, timeout=5):
        errors = hold_then_wait()

    waits = metrics.histogram_difference(_waits(), before)
    assert errors == []
    assert metrics.histogram_count(waits) == 2
    # One checkout took the idle pool's connection, the other waited for it to come back.
    assert metrics.histogram_quantile(waits, 1.0) >= HOLD_S * 1000 * 0.8
    assert waits[-1] >= HOLD_S * 1000 * 0.8


def test_a_checkout_that_gives_up_is_counted_with_the_time_it_waited():
    before = _waits()

    with small_pool(max_size=1, timeout=0.15):
        errors = hold_then_wait()

    waits = metrics.histogram_difference(_waits(), before)
    assert len(errors) == 1
    assert metrics.histogram_count(waits) == 2
    # Bucket sums: the waiter's 150 ms timeout, plus the holder's checkout.
    assert 150 <= waits[-1] < HOLD_S * 1000


# --- the pool's check, skipped for a connection given back moments ago ---------------------------


@pytest.fixture
def checks(monkeypatch) -> list[int]:
    """The backend pid of every connection psycopg_pool's own check ran its empty query on."""
    original = ConnectionPool.check_connection
    checked: list[int] = []

    def counted(conn: Any) -> None:
        checked.append(conn.info.backend_pid)
        original(conn)

    monkeypatch.setattr(ConnectionPool, "check_connection", staticmethod(counted))
    return checked


def _use() -> int:
    """Check out the default connection, run one query, give it back: the connection's backend pid.

    The pid the client was given at connect (PostgreSQL's; behind PgBouncer, PgBouncer's for this client).
    """
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return connection.connection.info.backend_pid
    finally:
        connection.close()


def _terminate(pid: int) -> None:
    """End a backend from a connection of our own, and wait until it is gone."""
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s, 5000)", [pid]).fetchone() == (True,)


# Behind PgBouncer a terminated server connection is PgBouncer's to replace: the client's connection lives on.
straight_to_postgresql = pytest.mark.skipif(
    conf.settings.DB_PGBOUNCER, reason="terminates the client's PostgreSQL backend"
)


def test_a_connection_given_back_moments_ago_is_handed_out_without_the_empty_query(checks, settings):
    settings.DB_POOL_CHECK_IDLE = 5.0
    with checked_pool():
        first = _use()
        checks.clear()

        second = _use()

    assert second == first
    assert checks == []


def test_a_connection_idle_longer_than_the_threshold_is_checked(checks, settings):
    settings.DB_POOL_CHECK_IDLE = 0.1
    with checked_pool():
        pid = _use()
        checks.clear()
        time.sleep(0.2)

        _use()

    assert checks == [pid]


def test_with_no_threshold_every_checkout_is_checked(checks, settings):
    settings.DB_POOL_CHECK_IDLE = 0.0
    with checked_pool():
        pid = _use()

        _use()

    assert checks == [pid, pid]


def test_a_connection_given_back_after_a_database_error_is_checked(checks, settings):
    settings.DB_POOL_CHECK_IDLE = 5.0
    with checked_pool():
        with pytest.raises(ProgrammingError), connection.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table")
        pid = connection.connection.info.backend_pid
        connection.close()
        checks.clear()

        _use()

    assert checks == [pid]


def test_a_connection_given_back_in_a_transaction_is_checked(checks, settings):
    settings.DB_POOL_CHECK_IDLE = 5.0
    with checked_pool():
        with connection.cursor() as cursor:
            cursor.execute("BEGIN")
        pid = connection.connection.info.backend_pid
        connection.close()  # the pool rolls it back
        checks.clear()

        _use()

    assert checks == [pid]


@straight_to_postgresql
def test_a_connection_terminated_while_idle_beyond_the_threshold_is_replaced_before_use(checks, settings):
    settings.DB_POOL_CHECK_IDLE = 0.1
    with checked_pool():
        terminated = _use()
        _terminate(terminated)
        time.sleep(0.2)

        replacement = _use()

        stats = connection.pool.get_stats()
    assert replacement != terminated
    assert stats.get("connections_lost") == 1  # the check found it dead; the pool opened another


@straight_to_postgresql
def test_a_connection_terminated_within_the_threshold_fails_one_statement_and_is_discarded(checks, settings):
    settings.DB_POOL_CHECK_IDLE = 5.0
    with checked_pool():
        terminated = _use()
        _terminate(terminated)

        with pytest.raises(OperationalError):
            _use()
        replacement = _use()

        stats = connection.pool.get_stats()
    assert replacement != terminated
    assert stats.get("returns_bad") == 1  # given back broken: closed, never handed out again
