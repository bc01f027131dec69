from __future__ import annotations

import structlog
from celery import shared_task

from apps.payments.selectors import payment_cache_invalidate_for_student

logger = structlog.get_logger(__name__)


@shared_task(name="payments.invalidate_student_cache", ignore_result=True)
def payments_invalidate_student_cache(student_id: int) -> None:
    """A student's cached payment lists are stale once a payment settles."""
    payment_cache_invalidate_for_student(student_id=student_id)
    logger.info("student_payment_cache_invalidated", student_id=student_id)
