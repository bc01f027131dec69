from __future__ import annotations

import argparse

from django.core.management.base import BaseCommand, CommandParser

from apps.demo.services import DemoScale, demo_platform_seed

MAX_PAYMENTS = 50_000_000


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if not 1 <= number <= MAX_PAYMENTS:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_PAYMENTS}, got {number}")
    return number


class Command(BaseCommand):
    help = (
        "Create a coherent demo platform: courses, students, trainers, payments in every status, "
        "purchases, allocations and sessions, all marked is_demo; rows it did not make are never touched. "
        "Safe to re-run; a larger scale extends a smaller one."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--payments", type=_positive_int, default=2_000, help="payments to create (default 2000)")
        parser.add_argument("--students", type=_positive_int, help="students (default payments / 5)")
        parser.add_argument("--trainers", type=_positive_int, help="trainers (default students / 10)")

    def handle(self, *args: object, payments: int, students: int | None, trainers: int | None, **options: object):
        scale = DemoScale.for_payments(payments, students=students, trainers=trainers)
        inserted = demo_platform_seed(scale=scale)
        summary = ", ".join(f"{table}={rows}" for table, rows in inserted.items())
        self.stdout.write(f"demo data ready (rows inserted: {summary})")
