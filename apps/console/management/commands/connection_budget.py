"""Check a rollout plan against PostgreSQL's connection budget; exit 1 when it does not fit.

    manage.py connection_budget --web 4 --workers 2 --concurrency 4

The server's max_connections and reserved connections are read from the database (one
statement, bounded) unless given (`--max-connections`, `--reserved`: checks without a database).
"""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, connection

from apps.console.budget import Plan, plan_check
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
        result = plan_check(plan=plan, max_connections=max_connections, reserved=reserved)
        for line in result["lines"]:
            self.stdout.write(f"{line['what']}: {line['processes']} x {line['pool_max']} = {line['connections']}")
        self.stdout.write(
            f"total {result['pool_max_sum']} of {result['available']} "
            f"(max_connections {max_connections} - reserved {reserved}): {result['words']}"
        )
        if not result["fits"]:
            raise CommandError(f"the plan does not fit the connection budget: {result['words']}")


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
