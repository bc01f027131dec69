from __future__ import annotations

import datetime

import structlog
from celery import shared_task

from apps.payments.selectors import payment_cache_invalidate_for_student
from apps.payments.services import payment_reconcile_stuck
from apps.workers.retry import ReliableTask, require_id

logger = structlog.get_logger(__name__)

# A payment pending this long lost its provider answer; younger ones may still be settling.
RECONCILE_AFTER_MINUTES = 5


@shared_task(base=ReliableTask, name="payments.invalidate_student_cache", ignore_result=True)
def payments_invalidate_student_cache(student_id: int) -> None:
    """Every payment status change makes the student's cached lists stale (the cache fails open: bounded, never raises)."""
    payment_cache_invalidate_for_student(student_id=require_id(student_id, "student_id"))
    logger.info("student_payment_cache_invalidated", student_id=student_id)


@shared_task(base=ReliableTask, name="payments.reconcile_stuck", ignore_result=True)
def payments_reconcile_stuck() -> None:
    """Beat: settle payments left created or pending from the provider's record of them, or expire them; never charges."""
    payment_reconcile_stuck(older_than=datetime.timedelta(minutes=RECONCILE_AFTER_MINUTES))
