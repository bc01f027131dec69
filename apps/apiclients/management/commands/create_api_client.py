from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from apps.apiclients.models import ApiScope
from apps.apiclients.services import api_client_create


class Command(BaseCommand):
    help = "Create a named API client and print its token, once: only its hash is stored."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True, help="who holds the token, e.g. billing-sync")
        parser.add_argument("--scopes", required=True, help=f"comma-separated, from: {', '.join(ApiScope.values)}")
        parser.add_argument("--expires-in-days", type=int, default=None, help="default: never expires")

    def handle(self, *args: object, name: str, scopes: str, expires_in_days: int | None, **options: object) -> None:
        wanted = [scope.strip() for scope in scopes.split(",") if scope.strip()]
        unknown = sorted(set(wanted) - set(ApiScope.values))
        if unknown or not wanted:
            raise CommandError(f"--scopes must name some of {', '.join(ApiScope.values)}; unknown: {unknown}")
        if expires_in_days is not None and expires_in_days < 1:
            raise CommandError("--expires-in-days must be at least 1")
        expires_at = timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None
        try:
            issued = api_client_create(name=name, scopes=wanted, expires_at=expires_at)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stderr.write(f"API client {name!r} created with {', '.join(issued.client.scopes)}; copy the token now:")
        self.stdout.write(issued.token)
