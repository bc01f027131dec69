"""Dead-letter reads for the admin and the console."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, replace

from django.db.models import Count, Exists, Expression, JSONField, Max, OuterRef, QuerySet, Value
from django.db.models.functions import JSONArray

from apps.workers.models import OPEN_STATUSES, DeadLetter, DeadLetterStatus, deadletter_fingerprint_expression


@dataclass(frozen=True)
class DeadLetterFilter:
    """The operator's filters; unset fields do not filter."""

    status: tuple[str, ...] = ()
    task_name: str = ""
    queue: str = ""
    exception_class: str = ""
    failed_after: datetime.datetime | None = None
    failed_before: datetime.datetime | None = None

    def replayable(self) -> DeadLetterFilter:
        wanted = self.status or (DeadLetterStatus.NEW,)
        return replace(self, status=tuple(s for s in wanted if s in (DeadLetterStatus.NEW, DeadLetterStatus.REPLAYED)))


def deadletter_list(*, filters: DeadLetterFilter) -> QuerySet[DeadLetter]:
    """Letters matching `filters`, newest failure first (dead_letters_* indexes)."""
    letters = DeadLetter.objects.all()
    if filters.status:
        letters = letters.filter(status__in=filters.status)
    if filters.task_name:
        letters = letters.filter(task_name=filters.task_name)
    if filters.queue:
        letters = letters.filter(queue=filters.queue)
    if filters.exception_class:
        letters = letters.filter(exception_class=filters.exception_class)
    if filters.failed_after:
        letters = letters.filter(last_failed_at__gte=filters.failed_after)
    if filters.failed_before:
        letters = letters.filter(last_failed_at__lt=filters.failed_before)
    return letters.order_by("-last_failed_at", "-id")


def deadletter_groups_by_exception(*, status: str = DeadLetterStatus.NEW) -> list[Mapping[str, object]]:
    """Open letters grouped by exception class and task: how many, and the latest failure."""
    return list(
        DeadLetter.objects.filter(status=status)
        .values("exception_class", "task_name")
        .annotate(count=Count("id"), last_failed_at=Max("last_failed_at"))
        .order_by("-count", "exception_class")
    )


def deadletter_open_for_call(*, task_name: str, arg: Expression | OuterRef) -> Exists:
    """Whether `task_name(arg)` has an open letter, as an Exists() over the caller's rows (e.g. arg=OuterRef("id")).

    For tasks called with one positional id (`args=[id]`), like the pipeline's
    steps; looked up through dead_letters_open_fingerprint_uniq.
    """
    call = deadletter_fingerprint_expression(Value(task_name), JSONArray(arg), Value({}, output_field=JSONField()))
    return Exists(DeadLetter.objects.filter(fingerprint=call, status__in=OPEN_STATUSES))
