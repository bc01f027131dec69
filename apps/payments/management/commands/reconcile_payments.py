from __future__ import annotations

import argparse
import datetime

from django.core.management.base import BaseCommand, CommandParser

from apps.payments.services import payment_reconcile_stuck


def _positive_int(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {value!r}")
    return int(value)


class Command(BaseCommand):
    help = (
        "Settle payments left created or pending (provider timeouts, interrupted requests) by reading each "
        "one's charge from the provider by its idempotency key; expire those the provider never charged "
        "after PAYMENT_EXPIRE_AFTER. Never makes a charge."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than", type=_positive_int, default=300, help="seconds untouched (default 300)")
        parser.add_argument("--limit", type=_positive_int, default=500, help="payments per run (default 500)")

    def handle(self, *args: object, older_than: int, limit: int, **options: object) -> None:
        summary = payment_reconcile_stuck(older_than=datetime.timedelta(seconds=older_than), limit=limit)
        self.stdout.write(
            f"examined={summary.examined} settled={summary.settled} expired={summary.expired} "
            f"still_pending={summary.still_pending}"
        )
