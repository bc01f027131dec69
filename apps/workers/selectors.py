"""Dead-letter reads for the admin and the console."""

from __future__ import annotations

import datetime
import functools
import inspect
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from django.db import connection
from django.db.models import Count, Exists, Expression, JSONField, Max, OuterRef, Q, QuerySet, Value
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
    reason: str = ""
    correlation_id: str = ""
    # Letters of these calls only, (task name, positional args): e.g. every step of one payment.
    calls: tuple[tuple[str, tuple[object, ...]], ...] | None = None
    # Letters filed up to this id (a replay job's bound: later failures are not its business).
    max_id: int | None = None

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
    if filters.reason:
        letters = letters.filter(reason=filters.reason)
    if filters.correlation_id:
        letters = letters.filter(correlation_id=filters.correlation_id)
    if filters.calls is not None:
        letters = letters.filter(_calls_q(filters.calls))
    if filters.max_id is not None:
        letters = letters.filter(id__lte=filters.max_id)
    return letters.order_by("-last_failed_at", "-id")


def _calls_q(calls: tuple[tuple[str, tuple[object, ...]], ...]) -> Q:
    """Letters of exactly these calls (no kwargs), by fingerprint (dead_letters_fingerprint_idx); none if empty."""
    if not calls:
        return Q(pk__in=[])
    query = Q()
    for task_name, args in calls:
        call = deadletter_fingerprint_expression(
            Value(task_name), Value(list(args), output_field=JSONField()), Value({}, output_field=JSONField())
        )
        query |= Q(fingerprint=call)
    return query


def deadletter_groups(*, filters: DeadLetterFilter, limit: int = 50, within: int = 2_000) -> list[dict[str, object]]:
    """Letters matching `filters` grouped by task and exception class: count, first and last seen, a sample.

    Only the `within` most recently filed matching letters (by id: a backward scan of the
    primary key) are grouped, so the cost has a bound however many match; they are a
    derived table, which PostgreSQL plans on its own (an `IN (subquery)` was planned as a
    hash join over the whole table). Two queries: the groups, biggest first, and a sample
    (the newest letter) of each.
    """
    columns = ("id", "task_name", "exception_class", "first_failed_at", "last_failed_at")
    recent = deadletter_list(filters=filters).order_by("-id").values(*columns)[:within]
    sql, params = recent.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT task_name, exception_class, count(*), min(first_failed_at), max(last_failed_at), max(id)"
            f" FROM ({sql}) AS recent GROUP BY 1, 2 ORDER BY 3 DESC, 5 DESC, 1, 2 LIMIT %s",
            [*params, limit],
        )
        rows = cursor.fetchall()
    samples = DeadLetter.objects.in_bulk([row[5] for row in rows])
    keys = ("task_name", "exception_class", "count", "first_seen", "last_seen", "sample_id")
    return [{**dict(zip(keys, row, strict=True)), "sample": samples.get(row[5])} for row in rows]


def deadletter_count_capped(*, filters: DeadLetterFilter, cap: int) -> int:
    """How many letters match, counting at most `cap` + 1 rows (never an unbounded COUNT). One query."""
    return deadletter_list(filters=filters).order_by()[: cap + 1].count()


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


def deadletter_filter_to_json(filters: DeadLetterFilter) -> dict[str, object]:
    """`filters` as JSON (a replay job stores the filter it replays); unset fields are left out."""
    data: dict[str, object] = {}
    for name, value in filters.__dict__.items():
        if value is None or value == "" or (value == () and name != "calls"):
            continue
        if isinstance(value, datetime.datetime):
            value = value.isoformat()
        elif name == "calls":
            value = [[task, list(args)] for task, args in value]
        elif isinstance(value, tuple):
            value = list(value)
        data[name] = value
    return data


def deadletter_filter_from_json(data: Mapping[str, object]) -> DeadLetterFilter:
    values: dict[str, object] = dict(data)
    for name in ("failed_after", "failed_before"):
        if isinstance(values.get(name), str):
            values[name] = datetime.datetime.fromisoformat(str(values[name]))
    if "status" in values:
        values["status"] = tuple(values["status"])  # type: ignore[arg-type]  # a list in JSON
    if "calls" in values:
        values["calls"] = tuple((task, tuple(args)) for task, args in values["calls"])  # type: ignore[attr-defined]  # pairs in JSON
    return DeadLetterFilter(**values)  # type: ignore[arg-type]  # the fields deadletter_filter_to_json wrote


@functools.cache
def _task_registry() -> Mapping[str, Any]:
    """The worker app's tasks, every task module imported (once per process)."""
    from ops_console.celery import app

    app.loader.import_default_modules()
    return app.tasks


def deadletter_task_names() -> list[str]:
    """Names of the tasks a letter can name: the worker app's registered tasks (no query, no DISTINCT)."""
    return sorted(name for name in _task_registry() if not name.startswith("celery."))


def deadletter_task_parameters(*, task_name: str) -> list[str]:
    """The task's positional parameter names (`payment_id`, ...), to say what each stored argument names.

    Empty when no task has that name any more. No query.
    """
    task = _task_registry().get(task_name)
    if task is None:
        return []
    function = getattr(task, "run", task)
    return [
        parameter.name
        for parameter in inspect.signature(function).parameters.values()
        if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD)
    ]
