"""What each drill does to the system. Every effect ends by itself: a timer elsewhere, a bounded task, a deadline.

Worker-side effects (pool hold, slow statement) run inside a Celery task, so they
outlive the page and the web process that started them and end with the task.
"""

from __future__ import annotations

import threading
import time
import uuid
from decimal import Decimal
from typing import Any

import structlog
from django.conf import settings
from django.db import DatabaseError, connection

from apps.directory.models import Course, Student
from apps.payments.services import PaymentRequest, payment_create
from lib.db import statement_timeout
from lib.http import UpstreamFailure, http_client

logger = structlog.get_logger(__name__)


class DrillFailed(Exception):
    """The drill could not be started (the provider did not take the mode, no data for a burst)."""


def provider_mode_set(*, mode: str, seconds: float) -> None:
    """Ask the sandbox provider (PAYMENT_PROVIDER_URL) for `mode` during `seconds`; it reverts by its own timer.

    One HTTP call bounded by DRILL_CONTROL_TIMEOUT."""
    payload: dict[str, Any] = {
        "mode": mode,
        "delay_ms": settings.DRILL_PROVIDER_DELAY_MS if mode == "slow" else 0,
        "seconds": seconds,
    }
    try:
        response = http_client("provider_control").request("POST", "/_control/mode", json=payload)
    except UpstreamFailure as exc:
        raise DrillFailed(f"the provider's control endpoint did not answer ({type(exc).__name__})") from exc
    if response.status_code != 200:
        raise DrillFailed(f"the provider refused the mode (HTTP {response.status_code}): is it the sandbox provider?")


def pool_hold(*, seconds: float) -> int:
    """Take every connection of this process's pool for `seconds`, while one more thread keeps asking for one
    (so the pool reports a waiting request and timeouts). Returns how many connections were held."""
    held: list[int] = []
    deadline = time.monotonic() + seconds

    def hold() -> None:
        try:
            connection.ensure_connection()
            held.append(1)
            time.sleep(max(0.0, deadline - time.monotonic()))
        except DatabaseError as exc:
            logger.warning("drill_pool_hold_failed", error_class=type(exc).__name__)
        finally:
            connection.close()

    def ask() -> None:
        while time.monotonic() < deadline:
            try:
                connection.ensure_connection()
            except DatabaseError:
                continue  # a pool timeout: counted by the pool, shown by the console
            finally:
                connection.close()
            time.sleep(0.05)

    threads = [threading.Thread(target=hold, name=f"drill-hold-{n}") for n in range(settings.DB_POOL_MAX_SIZE)]
    threads.append(threading.Thread(target=ask, name="drill-ask"))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + settings.DB_POOL_TIMEOUT + 5)
    return len(held)


def statement_past_timeout(*, seconds: float) -> None:
    """A statement that sleeps past a statement timeout of `seconds`: PostgreSQL cancels it (raises)."""
    with statement_timeout(max(1, int(seconds * 1000))), connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(%s) /* fault drill: slow statement */", [seconds + 30])


def payment_burst(*, count: int) -> int:
    """Create `count` payments through the provider, each starting its pipeline when it succeeds. Returns how many
    were created. Runs one provider call per payment (bounded by PAYMENT_TIMEOUT)."""
    course = _burst_course()
    students = list(Student.objects.filter(status=Student.Status.ACTIVE).values_list("id", flat=True)[:count])
    if course is None or not students:
        raise DrillFailed("a burst needs an active course with a trainer and active students (manage.py seed_demo)")
    created = 0
    for n in range(count):
        request = PaymentRequest(
            student_id=students[n % len(students)], course_id=course.id, amount=Decimal(course.price),
            currency=settings.PAYMENT_CURRENCIES[0], idempotency_key=f"drill-burst-{uuid.uuid4().hex}",
        )  # fmt: skip
        try:
            payment_create(request=request)
            created += 1
        except Exception as exc:  # a provider drill may be running too: the burst carries on, as clients would
            logger.info("drill_burst_payment_failed", error_class=type(exc).__name__)
    return created


def _burst_course() -> Course | None:
    return Course.objects.filter(status=Course.Status.ACTIVE, trainers__isnull=False).order_by("id").first()


def burst_ready() -> bool:
    """Whether a burst has what it needs (two indexed reads)."""
    return _burst_course() is not None and Student.objects.filter(status=Student.Status.ACTIVE).exists()
