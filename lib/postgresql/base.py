"""Django's PostgreSQL backend, timing how long each request waits for a pooled connection.

psycopg_pool's get_stats() only sums the wait (requests_wait_ms), so a p95 cannot
come from it. Django takes every connection from `self.pool.getconn()` inside
get_new_connection, so timing that one call here sees every checkout, and nothing
else changes: same pool, same options, same vendor. A checkout that gives up
(PoolTimeout after DB_POOL_TIMEOUT) is counted with the time it waited.
"""

from __future__ import annotations

import time
from typing import Any

from django.db.backends.postgresql import base

from lib import metrics

POOL_WAIT_HISTOGRAM = "db_pool_wait_ms"


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        if not self.pool:
            return super().get_new_connection(conn_params)
        started = time.perf_counter()
        try:
            return super().get_new_connection(conn_params)
        finally:
            metrics.observe_histogram(POOL_WAIT_HISTOGRAM, (time.perf_counter() - started) * 1000, alias=self.alias)
