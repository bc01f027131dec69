"""Database helpers: explicit, bounded statement timeouts."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction

BIGINT_MAX = 2**63 - 1  # the largest id PostgreSQL's bigint holds


@contextmanager
def statement_timeout(milliseconds: int | None = None) -> Iterator[None]:
    """Run the block in a transaction whose statements may take `milliseconds`.

    Reports and maintenance need more than DB_STATEMENT_TIMEOUT; they say so
    here, explicitly and bounded (default DB_REPORT_STATEMENT_TIMEOUT, 120 s).
    SET LOCAL ends with the transaction, so the pooled connection goes back
    carrying its normal timeout: one query. Inside an outer transaction the
    block is a savepoint, so the previous value is put back explicitly on the
    way out (a rollback to the savepoint restores it by itself): two queries.
    """
    timeout = settings.DB_REPORT_STATEMENT_TIMEOUT if milliseconds is None else milliseconds
    if timeout < 1:
        raise ValueError("statement timeout must be at least 1 ms")
    nested = connection.in_atomic_block
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT current_setting('statement_timeout'), set_config('statement_timeout', %s, true)",
                [f"{int(timeout)}ms"],
            )
            previous = cursor.fetchone()[0]
        yield
        if nested:
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('statement_timeout', %s, true)", [previous])


SqlParams = Sequence[Any] | Mapping[str, Any]


def sql_row(sql: str, params: SqlParams) -> tuple[Any, ...] | None:
    """The first row a statement returns, or None. Runs one query.

    For the few statements on the pipeline's hot path where building and compiling the ORM's
    query costs the worker more than PostgreSQL takes to run it (docs/BENCHMARKS.md,
    "Pipeline throughput"); everything else uses the ORM.
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def sql_rows(sql: str, params: SqlParams) -> list[tuple[Any, ...]]:
    """Every row a statement returns (see sql_row). Runs one query."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def db_connection_release() -> None:
    """Give this thread's pooled connection back before a slow outbound call.

    The next query takes one from the pool again. Inside a transaction (a
    test's, or a caller's) the connection must stay, so nothing happens.
    """
    if not connection.in_atomic_block:
        connection.close()


def integrity_constraint_name(exc: IntegrityError) -> str | None:
    """The name of the constraint PostgreSQL reports for an IntegrityError, if any."""
    diag = getattr(exc.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None)


def current_statement_timeout() -> str:
    """The statement_timeout in force on this connection. Runs one query."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        return cursor.fetchone()[0]
