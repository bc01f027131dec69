"""Django's PostgreSQL backend, timing pool checkouts and skipping the check of a connection used moments ago.

Pool waits: psycopg_pool's get_stats() only sums the wait (requests_wait_ms), so
a p95 cannot come from it. Django takes every connection from
`self.pool.getconn()` inside get_new_connection, so timing that one call here
sees every checkout. A checkout that gives up (PoolTimeout after
DB_POOL_TIMEOUT) is counted with the time it waited.

Pool checks: with DB_POOL_CHECK (CONN_HEALTH_CHECKS) Django gives the pool
psycopg_pool's `ConnectionPool.check_connection`, one empty query per checkout,
so a connection that died idle (a database restart or failover) is replaced
before anyone uses it. A worker's next task takes its connection back
milliseconds after the last one gave it back, and that round trip is a cost of
every task. So the pool's check here (`RecentReturnCheck`) skips the query when
the connection was given back less than DB_POOL_CHECK_IDLE seconds ago, idle
and after a checkout without database errors (stamped in `close`, where
Django gives a pooled connection back); any other connection (a fresh
one, one given back in a transaction, after an error, or idle longer) is
checked as before. DB_POOL_CHECK_IDLE = 0 checks every checkout.

The price: a connection the database dropped within that window is handed out
unchecked, and its first statement fails with OperationalError. The broken
connection is then discarded by the pool when it is given back (psycopg_pool
drops one whose status is no longer IDLE), never handed out again, and a
ReliableTask retries the attempt with backoff (apps/workers/retry.py:
OperationalError is transient). Only a connection given back within the window
before the failure can skip, and only its first statement fails; the window is
no longer than the first retry's countdown (checked in settings), so the retried
attempt's connection is always checked (docs/workers.md#database-connections).
Behind PgBouncer (DB_PGBOUNCER) the check and the skip work the same, on the
client connection to PgBouncer.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.db.backends.postgresql import base
from psycopg.pq import TransactionStatus
from psycopg_pool import ConnectionPool

from lib import metrics

POOL_WAIT_HISTOGRAM = "db_pool_wait_ms"
# Set on a psycopg connection as Django gives it back healthy: time.monotonic() then.
RETURNED_AT = "_ops_returned_at"


class RecentReturnCheck:
    """The pool's `check`: psycopg_pool's empty query, unless the connection came back healthy moments ago."""

    def __call__(self, conn: Any) -> None:
        returned_at = getattr(conn, RETURNED_AT, None)
        setattr(conn, RETURNED_AT, None)  # a stamp serves one checkout
        if returned_at is not None and self._fresh(conn, returned_at):
            return
        # Looked up at each call, so a profiler's wrapper of it (bench/pipeline_profile.py) counts real checks.
        ConnectionPool.check_connection(conn)

    @staticmethod
    def _fresh(conn: Any, returned_at: float) -> bool:
        idle_for = time.monotonic() - returned_at
        return idle_for < settings.DB_POOL_CHECK_IDLE and conn.pgconn.transaction_status == TransactionStatus.IDLE


class DatabaseWrapper(base.DatabaseWrapper):
    @property
    def pool(self) -> Any:
        pool = super().pool
        if pool is not None:
            _pool_check_install(pool)
        return pool

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        if not self.pool:
            return super().get_new_connection(conn_params)
        started = time.perf_counter()
        try:
            return super().get_new_connection(conn_params)
        finally:
            metrics.observe_histogram(POOL_WAIT_HISTOGRAM, (time.perf_counter() - started) * 1000, alias=self.alias)

    def close(self) -> None:
        # Django gives a pooled connection back here (its _close). Stamped first: another thread may take it at once.
        if self.connection is not None and self.pool:
            healthy = not self.errors_occurred and self.connection.pgconn.transaction_status == TransactionStatus.IDLE
            setattr(self.connection, RETURNED_AT, time.monotonic() if healthy else None)
        super().close()


def _pool_check_install(pool: ConnectionPool) -> None:
    """Replace the check Django gave the pool (CONN_HEALTH_CHECKS on) with RecentReturnCheck; none stays none.

    Django builds the pool inside its `pool` property and passes `check` itself,
    so the pool's attribute is the one place to change it. Runs at every access
    of the property, which is the first to see a new pool: once, then a test.
    """
    if pool._check is not None and not isinstance(pool._check, RecentReturnCheck):
        pool._check = RecentReturnCheck()
