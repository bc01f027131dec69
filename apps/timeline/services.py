"""Writes of the timeline beyond recording: pruning by age."""

from __future__ import annotations

import datetime
import time

import structlog
from django.conf import settings
from django.db import connection
from django.utils import timezone

from lib.db import statement_timeout

logger = structlog.get_logger(__name__)


def timeline_prune(*, now: datetime.datetime | None = None, batch: int | None = None, max_seconds: float = 30.0) -> int:
    """Delete events older than TIMELINE_RETENTION_DAYS, one batch per statement, for at most `max_seconds`.

    Each batch is one DELETE of at most `batch` rows (BRIN on occurred_at) in its
    own short transaction, so pruning never holds locks for long; what is left
    goes at the next run. Returns the rows deleted.
    """
    cutoff = (now or timezone.now()) - datetime.timedelta(days=settings.TIMELINE_RETENTION_DAYS)
    size = batch or settings.TIMELINE_PRUNE_BATCH
    deadline, deleted = time.monotonic() + max_seconds, 0
    while time.monotonic() < deadline:
        with statement_timeout(settings.DB_REPORT_STATEMENT_TIMEOUT), connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM timeline_events WHERE id IN"
                " (SELECT id FROM timeline_events WHERE occurred_at < %s LIMIT %s)",
                [cutoff, size],
            )
            count = cursor.rowcount
        deleted += count
        if count < size:
            break
    if deleted:
        logger.info("timeline_pruned", count=deleted, older_than=cutoff.isoformat())
    return deleted
