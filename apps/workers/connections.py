"""A worker's database connections: each pool process keeps its connection pool across tasks.

Celery's Django fixup, in a prefork pool process, closes every connection before
and after each task and, with Django's pool, the pool itself (`close_pool`): each
task then opened a new pool, which connected DB_POOL_MIN_SIZE or more fresh
PostgreSQL sessions and started and joined the pool's threads. Measured: three
new sessions per pipeline task, the largest cost of a pipeline
(docs/BENCHMARKS.md, "Pipeline throughput").

Instead, in order:
1. CELERY_DB_REUSE_MAX makes the fixup close the connections and the pool only
   once every that many tasks (a recycle), and after fork as before.
2. After every task its connection goes back to the pool (`task_connection_release`),
   which is what the fixup's per-task close did for the connection: psycopg_pool
   rolls back one left in a transaction and discards a broken one.
3. The pool checks each connection as it hands it out (DB_POOL_CHECK, on in
   workers), so one that died idle (a database restart) is replaced before a
   task gets it, as a fresh connection per task never needed.
"""

from __future__ import annotations

from typing import Any

from celery import signals

from lib.db import db_connection_release


def worker_connections_init(**_: Any) -> None:
    """worker_init: release each task's connection after every other task_postrun receiver has run.

    Connected when the worker starts, after the apps' own receivers (the timeline's
    flush writes on the task's connection), so the connection goes back once.
    """
    signals.task_postrun.connect(task_connection_release, dispatch_uid="workers_connection_release")


def task_connection_release(task: Any = None, **_: Any) -> None:
    """task_postrun: the task's pooled connection goes back to the pool (an eager call keeps its caller's)."""
    if task is not None and getattr(task.request, "is_eager", False):
        return
    db_connection_release()
