"""Relay the outbox to the broker until stopped: `python manage.py outbox_relay`.

Run one or more beside the workers (`make run` starts one). SIGTERM or Ctrl-C
finishes the current pass and exits.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

import structlog
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import DatabaseError, close_old_connections

from apps.outbox.services import outbox_relay_batch
from apps.telemetry.reporter import reporter_start, reporter_stop

logger = structlog.get_logger(__name__)


class Command(BaseCommand):
    help = "Publish outbox messages whose in-process publish was lost (broker down, process died)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--once", action="store_true", help="Run one pass over everything due, then exit.")

    def handle(self, *args: Any, once: bool = False, **options: Any) -> None:
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        logger.info("outbox_relay_started", interval_s=settings.OUTBOX_RELAY_INTERVAL)
        if not once:
            reporter_start(kind="relay")
        while not stop.is_set():
            busy = self._pass()
            if once and not busy:
                break
            if not busy:
                stop.wait(settings.OUTBOX_RELAY_INTERVAL)
        reporter_stop()
        logger.info("outbox_relay_stopped")

    @staticmethod
    def _pass() -> bool:
        """One batch; True when it was full (more may be due at once)."""
        try:
            summary = outbox_relay_batch(limit=settings.OUTBOX_RELAY_BATCH)
        except DatabaseError as exc:  # PostgreSQL away: wait and try again, never exit
            logger.warning("outbox_relay_pass_failed", error_class=type(exc).__name__)
            close_old_connections()
            return False
        return summary.failed == 0 and summary.published >= settings.OUTBOX_RELAY_BATCH
