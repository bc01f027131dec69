"""Check a rollout plan against PostgreSQL's connection budget; exit 1 when it does not fit.

    manage.py connection_budget --web 4 --workers 2 --concurrency 4
    manage.py connection_budget --web 40 --workers 8 --pgbouncer --pgbouncers 2

The server's max_connections and reserved connections are read from the database (one
statement, bounded) unless given (`--max-connections`, `--reserved`: checks without a database).
Behind PgBouncer (on by DB_PGBOUNCER) the pools count against PgBouncer's max_client_conn and
PgBouncer's server pools against PostgreSQL (docs/pgbouncer.md).
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, connection

from apps.console.budget import Plan, pgbouncer_plan_check, plan_check
from lib.db import statement_timeout


class Command(BaseCommand):
    help = "Fail a rollout plan (--web N --workers M) whose pools could open more connections than PostgreSQL accepts."

    def add_arguments(self, parser: CommandParser) -> None:
        pool_max = settings.DB_POOL_MAX_SIZE
        parser.add_argument("--web", type=int, required=True, help="web processes (each uvicorn worker counts)")
        parser.add_argument("--workers", type=int, required=True, help="Celery workers")
        parser.add_argument(
            "--concurrency",
            type=int,
            default=os.cpu_count() or 1,
            help="pool processes per Celery worker (default: this machine's CPUs, Celery's default)",
        )
        parser.add_argument(
            "--web-pool-max", type=int, default=pool_max, help=f"DB_POOL_MAX_SIZE of web (default {pool_max})"
        )
        parser.add_argument(
            "--worker-pool-max", type=int, default=pool_max, help=f"DB_POOL_MAX_SIZE of workers (default {pool_max})"
        )
        parser.add_argument("--beat", type=int, default=1)
        parser.add_argument("--relays", type=int, default=1, help="outbox relays")
        parser.add_argument("--max-connections", type=int, help="the server's max_connections (default: read it)")
        parser.add_argument("--reserved", type=int, help="the server's reserved connections (default: read them)")  # fmt: skip
        parser.add_argument(
            "--pgbouncer",
            action=argparse.BooleanOptionalAction,
            default=settings.DB_PGBOUNCER,
            help=f"the processes connect through PgBouncer (default DB_PGBOUNCER: {settings.DB_PGBOUNCER})",
        )
        parser.add_argument("--pgbouncers", type=int, default=1, help="PgBouncer instances the processes share")
        parser.add_argument(
            "--pgbouncer-pool-size",
            type=int,
            default=settings.PGBOUNCER_POOL_SIZE,
            help=f"server connections per PgBouncer (default PGBOUNCER_POOL_SIZE {settings.PGBOUNCER_POOL_SIZE})",
        )
        parser.add_argument(
            "--pgbouncer-max-client-conn",
            type=int,
            default=settings.PGBOUNCER_MAX_CLIENT_CONN,
            help=f"max_client_conn per PgBouncer (default PGBOUNCER_MAX_CLIENT_CONN {settings.PGBOUNCER_MAX_CLIENT_CONN})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        counts = ("web", "workers", "concurrency", "web_pool_max", "worker_pool_max", "beat", "relays")
        if any(options[name] < 0 for name in counts) or options["concurrency"] < 1:
            raise CommandError("process counts must be 0 or more, --concurrency at least 1")
        plan = Plan(**{name: options[name] for name in counts})
        max_connections, reserved = options["max_connections"], options["reserved"]
        if max_connections is None or reserved is None:
            read_max, read_reserved = _server_limits()
            max_connections = read_max if max_connections is None else max_connections
            reserved = read_reserved if reserved is None else reserved
        if options["pgbouncer"]:
            self._check_behind_pgbouncer(plan, options, max_connections=max_connections, reserved=reserved)
            return
        result = plan_check(plan=plan, max_connections=max_connections, reserved=reserved)
        self._write_lines(result)
        self.stdout.write(
            f"total {result['pool_max_sum']} of {result['available']} "
            f"(max_connections {max_connections} - reserved {reserved}): {result['words']}"
        )
        if not result["fits"]:
            raise CommandError(f"the plan does not fit the connection budget: {result['words']}")

    def _check_behind_pgbouncer(
        self, plan: Plan, options: dict[str, Any], *, max_connections: int, reserved: int
    ) -> None:
        sizes = ("pgbouncers", "pgbouncer_pool_size", "pgbouncer_max_client_conn")
        if any(options[name] < 1 for name in sizes):
            raise CommandError("--pgbouncers, --pgbouncer-pool-size and --pgbouncer-max-client-conn must be at least 1")
        result = pgbouncer_plan_check(
            plan=plan,
            pgbouncers=options["pgbouncers"],
            pool_size=options["pgbouncer_pool_size"],
            max_client_conn=options["pgbouncer_max_client_conn"],
            max_connections=max_connections,
            reserved=reserved,
        )
        self._write_lines(result)
        self.stdout.write(
            f"clients {result['pool_max_sum']} of {result['available']} "
            f"(PgBouncer {options['pgbouncers']} x max_client_conn {options['pgbouncer_max_client_conn']}): "
            f"{result['words']}"
        )
        self.stdout.write(result["server_words"])
        if not result["client_fits"]:
            raise CommandError(f"the plan does not fit PgBouncer's max_client_conn: {result['words']}")
        if not result["server_fits"]:
            raise CommandError(f"PgBouncer's server pools do not fit PostgreSQL: {result['server_words']}")

    def _write_lines(self, result: dict[str, Any]) -> None:
        for line in result["lines"]:
            self.stdout.write(f"{line['what']}: {line['processes']} x {line['pool_max']} = {line['connections']}")


def _server_limits() -> tuple[int, int]:
    try:
        with statement_timeout(settings.CONSOLE_DB_ACTIVITY_TIMEOUT), connection.cursor() as cursor:
            cursor.execute(
                "SELECT current_setting('max_connections')::int, current_setting('superuser_reserved_connections')::int"
                " + coalesce(nullif(current_setting('reserved_connections', true), ''), '0')::int"
            )
            max_connections, reserved = cursor.fetchone()
    except DatabaseError as exc:
        raise CommandError(
            f"cannot read the server's limits ({type(exc).__name__}): pass --max-connections and --reserved"
        ) from exc
    return int(max_connections), int(reserved)
