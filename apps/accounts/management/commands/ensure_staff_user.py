from __future__ import annotations

import os

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.accounts.services import staff_user_ensure


class Command(BaseCommand):
    help = "Create a staff superuser, or reset its password. The password is read from an environment variable."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", required=True)
        parser.add_argument("--password-env", required=True, help="name of the variable holding the password")

    def handle(self, *args: object, username: str, password_env: str, **options: object) -> None:
        password = os.environ.get(password_env)
        if not password:
            raise CommandError(f"{password_env} is not set; it must hold the staff user's password")
        _user, created = staff_user_ensure(username=username, password=password)
        self.stdout.write(f"staff user {username!r} {'created' if created else 'updated'}")
