"""The release step (Procfile `release`): run once per rollout, before new web and worker processes start.

    python manage.py release

1. `check` — with `--deploy` unless DEBUG is on — failing on warnings: a rollout that the
   deploy checks refuse (secrets, cookies, HSTS, fault drills on, PgBouncer's statement
   timeout) stops here, before anything changed. The connection budget depends on how many
   processes the rollout runs, which this step cannot know: check the plan with
   `manage.py connection_budget --web N --workers M` first (docs/deployment.md).
2. `migrate --no-input`.
3. `collectstatic --no-input`.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Deploy checks, migrations and static files: the release step, once per rollout."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--fail-level",
            default="WARNING",
            choices=("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"),
            help="The check level that stops the release (default WARNING).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("check", deploy=not settings.DEBUG, fail_level=options["fail_level"], databases=["default"])
        call_command("migrate", interactive=False, verbosity=options["verbosity"])
        call_command("collectstatic", interactive=False, verbosity=min(options["verbosity"], 1))
