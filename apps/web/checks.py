"""Behind PgBouncer the base statement_timeout is the database role's: check that it is there.

A database check (Django runs these in `migrate` and `check --database default`, not at every
start), so each release's migrate stops when the role lacks the timeout (docs/pgbouncer.md).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register
from django.db import DatabaseError, connections

STATEMENT_TIMEOUT_FIX = "ALTER ROLE CURRENT_USER IN DATABASE {database} SET statement_timeout = '{ms}ms'"


@register("database")
def pgbouncer_statement_timeout_check(
    app_configs: Any = None, databases: Any = None, **kwargs: Any
) -> list[CheckMessage]:
    if not settings.DB_PGBOUNCER or "default" not in (databases or ()):
        return []
    connection = connections["default"]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('statement_timeout'), current_database()")
            in_force, database = cursor.fetchone()
    except DatabaseError as exc:
        return [Error(f"cannot read statement_timeout through PgBouncer ({type(exc).__name__})", id="ops_console.E031")]
    wanted = settings.DB_STATEMENT_TIMEOUT
    if _milliseconds(in_force) == wanted:
        return []
    return [
        Error(
            f"statement_timeout is {in_force} behind PgBouncer, not DB_STATEMENT_TIMEOUT ({wanted} ms): "
            "the startup option that sets it directly cannot pass PgBouncer.",
            hint="Set it on the application's role, as that role, once: "
            + STATEMENT_TIMEOUT_FIX.format(database=f'"{database}"', ms=wanted),
            id="ops_console.E030",
        )
    ]


def _milliseconds(setting: str) -> int | None:
    """PostgreSQL shows statement_timeout as '0', '250ms', '30s', '5min' or '1h'."""
    units = {"ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}
    for unit in sorted(units, key=len, reverse=True):
        number = setting.removesuffix(unit)
        if number != setting and number.isdigit():
            return int(number) * units[unit]
    return int(setting) if setting.isdigit() else None
