"""The dead-letters page (/ops/dead-letters): reads, and the operator's actions (dry run, replay job, discard).

Reads are bounded: every statement under TELEMETRY_SQL_TIMEOUT, capped counts, at most
GROUPS_SHOWN groups and LETTERS_SHOWN letters, and the page's data shared by every viewer
for a moment (apps/console/shared_cache.py). Actions go through apps.workers.services and
are written to the audit trail.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from apps.console.models import OperatorAction
from apps.console.services import audit_record
from apps.console.shared_cache import shared_page_data, shared_page_data_changed
from apps.pipeline.lineage import pipeline_calls_for_payment, pipeline_payment_ids_for_calls
from apps.telemetry import selectors as telemetry
from apps.workers.models import DeadLetter, DeadLetterReplayJob, DeadLetterStatus
from apps.workers.retry import DeadLetterReason
from apps.workers.selectors import (
    DeadLetterFilter,
    deadletter_count_capped,
    deadletter_filter_from_json,
    deadletter_groups,
    deadletter_list,
)
from apps.workers.services import (
    ReplayPlan,
    ReplayVerdict,
    deadletter_discard,
    deadletter_dry_run,
    deadletter_dry_run_matching,
    deadletter_replay_job_cancel,
    deadletter_replay_job_create,
)
from lib.db import statement_timeout

PAGE = "deadletters"
REPLAY_PERMISSION = "console.replay_deadletters"
GROUPS_SHOWN = 50
LETTERS_SHOWN = 100
JOBS_SHOWN = 10
# Counts are exact up to this many letters ("10,000+" beyond).
COUNT_CAP = 10_000
# The groups are built from at most this many of the most recently filed matching letters.
GROUP_WINDOW = 2_000
STATUS_CHOICES = {
    "new": (DeadLetterStatus.NEW,),
    "open": (DeadLetterStatus.NEW, DeadLetterStatus.REPLAYED),
    "replayed": (DeadLetterStatus.REPLAYED,),
    "resolved": (DeadLetterStatus.RESOLVED,),
    "discarded": (DeadLetterStatus.DISCARDED,),
    "all": (),
}
SINCE_CHOICES = {"1h": 3600, "24h": 86_400, "7d": 7 * 86_400, "30d": 30 * 86_400, "all": None}
REASONS = (
    DeadLetterReason.VALIDATION,
    DeadLetterReason.PERMANENT,
    DeadLetterReason.RETRIES_EXHAUSTED,
    DeadLetterReason.POISON,
    DeadLetterReason.DELIVERY_LIMIT,
    DeadLetterReason.REJECTED,
)
TEXT_FIELDS = ("task", "queue", "reason", "exception", "q")
MAX_TEXT = 255
# ASCII letters and digits spelled out: `\w` means any Unicode letter to Python and pydantic but ASCII only to
# JSON Schema's regex dialect, so the served schema and the validation would disagree on "Ú".
SAFE_TEXT = re.compile(r"^[A-Za-z0-9_.:\-@/ ]*$")
GROWTH_SERIES = ["dead_letters.new", "dead_letters.total"]
ALERT_RULE = "dead_letters_growing"


class BadFilter(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class PageQuery:
    """The page's filters as the operator typed them (they go back into the form and links) and as a filter."""

    raw: dict[str, str]
    filters: DeadLetterFilter


def page_query(params: Mapping[str, str]) -> PageQuery:
    """Parse the filters of the page's query string (or an action's form); BadFilter names a wrong one.

    `q` is free text: digits are a payment id (the letters of every pipeline step of that
    payment: two queries), anything else an exact correlation id.
    """
    raw = {"status": params.get("status", "new") or "new", "since": params.get("since", "all") or "all"}
    raw.update({name: (params.get(name) or "").strip() for name in TEXT_FIELDS})
    if raw["status"] not in STATUS_CHOICES:
        raise BadFilter("status", f"status must be one of {', '.join(STATUS_CHOICES)}")
    if raw["since"] not in SINCE_CHOICES:
        raise BadFilter("since", f"since must be one of {', '.join(SINCE_CHOICES)}")
    for name in TEXT_FIELDS:
        if len(raw[name]) > MAX_TEXT or not SAFE_TEXT.match(raw[name]):
            raise BadFilter(name, f"{name} must be at most {MAX_TEXT} letters, digits or . : - _ @ /")
    seconds = SINCE_CHOICES[raw["since"]]
    query = raw["q"]
    filters = DeadLetterFilter(
        status=STATUS_CHOICES[raw["status"]],
        task_name=raw["task"],
        queue=raw["queue"],
        reason=raw["reason"],
        exception_class=raw["exception"],
        failed_after=timezone.now() - datetime.timedelta(seconds=seconds) if seconds else None,
        correlation_id="" if query.isdigit() else query,
        calls=pipeline_calls_for_payment(payment_id=int(query)) if query.isdigit() else None,
    )
    return PageQuery(raw=raw, filters=filters)


# --- reads ------------------------------------------------------------------------


def deadletters_page(*, query: PageQuery) -> dict[str, Any]:
    """What /ops/dead-letters shows for `query`, shared by every viewer of the same filters for a moment."""
    data = shared_page_data(page=PAGE, variant=query.raw, compute=lambda: _page_data(query))
    series = shared_page_data(page=f"{PAGE}-growth", variant={}, compute=_growth_series)
    return {"overview": telemetry.console_overview(), **data, "series": series}


def _growth_series() -> dict[str, Any]:
    """The growth chart's history: the same for every filter, so shared by all of them."""
    return telemetry.metric_series(names=GROWTH_SERIES, range_="24h")


def _page_data(query: PageQuery) -> dict[str, Any]:
    """Four statements under TELEMETRY_SQL_TIMEOUT (groups, samples, letters, capped count), two for the
    letters' payments, one for the jobs. What times out is named in `notes`."""
    notes: list[str] = []
    filters = query.filters
    try:
        with statement_timeout(settings.TELEMETRY_SQL_TIMEOUT):
            grouped = deadletter_groups(filters=filters, limit=GROUPS_SHOWN, within=GROUP_WINDOW)
            groups = [_group_row(g) for g in grouped]
            letters = list(deadletter_list(filters=filters)[:LETTERS_SHOWN])
            matching = deadletter_count_capped(filters=filters, cap=COUNT_CAP)
            payments = pipeline_payment_ids_for_calls(calls=_first_int_calls(letters))
            jobs = [job_row(job) for job in DeadLetterReplayJob.objects.order_by("-created_at", "-id")[:JOBS_SHOWN]]
    except DatabaseError as exc:
        notes.append(f"dead letters unavailable: {type(exc).__name__} (a statement took over "
                     f"{settings.TELEMETRY_SQL_TIMEOUT} ms, or PostgreSQL is down)")  # fmt: skip
        groups, letters, matching, payments, jobs = [], [], None, {}, []
    return {
        "filters": query.raw,
        "matching": matching,
        "matching_capped": matching is not None and matching > COUNT_CAP,
        "grouped_over": GROUP_WINDOW if matching is not None and matching > GROUP_WINDOW else None,
        "groups": groups,
        "letters": [_letter_row(letter, payments) for letter in letters],
        "jobs": jobs,
        "notes": notes,
    }


def _first_int_calls(letters: Iterable[DeadLetter]) -> list[tuple[str, int]]:
    return [
        (letter.task_name, letter.args[0])
        for letter in letters
        if isinstance(letter.args, list) and letter.args and type(letter.args[0]) is int
    ]


def _group_row(group: Mapping[str, Any]) -> dict[str, Any]:
    sample: DeadLetter | None = group["sample"]
    return {
        "task_name": group["task_name"],
        "exception_class": group["exception_class"],
        "count": group["count"],
        "first_seen": group["first_seen"].isoformat(timespec="seconds"),
        "last_seen": group["last_seen"].isoformat(timespec="seconds"),
        "sample": None
        if sample is None
        else {"id": sample.id, "message": sample.message[:500], "traceback": sample.traceback[-4000:]},
    }


def _letter_row(letter: DeadLetter, payments: Mapping[tuple[str, int], int]) -> dict[str, Any]:
    first = letter.args[0] if isinstance(letter.args, list) and letter.args else None
    return {
        "id": letter.id,
        "task_name": letter.task_name,
        "queue": letter.queue,
        "args": letter.args,
        "reason": letter.reason,
        "exception_class": letter.exception_class,
        "message": letter.message[:300],
        "status": letter.status,
        "failures": letter.failures,
        "first_failed_at": letter.first_failed_at.isoformat(timespec="seconds"),
        "last_failed_at": letter.last_failed_at.isoformat(timespec="seconds"),
        "correlation_id": letter.correlation_id or None,
        "payment_id": payments.get((letter.task_name, first)) if type(first) is int else None,
        "replay_of": letter.replay_of_id,
    }


def job_row(job: DeadLetterReplayJob) -> dict[str, Any]:
    return {
        "id": job.id,
        "status": job.status,
        "actor": job.actor_username or None,
        "scope": "selected" if job.letter_ids is not None else "matching",
        "filters": job.filters,
        "total": job.total,
        "done": job.done,
        "replayed": job.replayed,
        "skipped": job.skipped,
        "refused": job.refused,
        "errors": job.errors,
        "last_error": job.last_error or None,
        "progress": round(job.done / job.total, 3) if job.total else 1.0,
        "created_at": job.created_at.isoformat(timespec="seconds"),
        "started_at": job.started_at.isoformat(timespec="seconds") if job.started_at else None,
        "finished_at": job.finished_at.isoformat(timespec="seconds") if job.finished_at else None,
    }


def replay_job_page(*, job_id: int) -> dict[str, Any] | None:
    """One job's progress (one query), and the summary bar's overview; None if there is no such job."""
    job = DeadLetterReplayJob.objects.filter(id=job_id).first()
    if job is None:
        return None
    return {"overview": telemetry.console_overview(), "job": job_row(job)}


# --- actions --------------------------------------------------------------------------


def _ids(values: Iterable[str]) -> list[int]:
    ids = []
    for value in values:
        if not value.isdigit() or not 0 < int(value) < 2**63:
            raise BadFilter("ids", f"ids must be dead letter ids, got {value[:20]!r}")
        ids.append(int(value))
    if not ids:
        raise BadFilter("ids", "select at least one dead letter")
    if len(ids) > settings.DEADLETTER_REPLAY_MAX_BATCH:
        raise BadFilter("ids", f"select at most {settings.DEADLETTER_REPLAY_MAX_BATCH} letters, or replay all matching")
    return ids


def dry_run(*, scope: str, ids: list[str], query: PageQuery) -> dict[str, Any]:
    """Per letter, what a replay would do now; nothing is sent. At most DEADLETTER_REPLAY_MAX_BATCH letters.

    Also the bound of the job the operator may start from it (`max_letter_id`) and the count
    the job would handle. Runs each letter's probe and guard, each statement under the
    page's timeout.
    """
    limit = settings.DEADLETTER_REPLAY_MAX_BATCH
    newest: int | None
    with statement_timeout(settings.TELEMETRY_SQL_TIMEOUT):
        if scope == "selected":
            letter_ids = _ids(ids)
            plans, newest, matching = deadletter_dry_run(deadletter_ids=letter_ids), max(letter_ids), len(letter_ids)
        else:
            plans, newest = deadletter_dry_run_matching(filters=query.filters, limit=limit)
            matching = deadletter_count_capped(
                filters=query.filters.replayable(), cap=settings.DEADLETTER_REPLAY_JOB_MAX
            )
    counts = {verdict: sum(1 for p in plans if p.verdict == verdict) for verdict in ReplayVerdict.WORDS}
    return {
        "scope": scope,
        "filters": query.raw,
        "ids": [p.deadletter_id for p in plans] if scope == "selected" else [],
        "max_letter_id": newest,
        "matching": min(matching, settings.DEADLETTER_REPLAY_JOB_MAX),
        "shown": len(plans),
        "counts": counts,
        "plans": [_plan_row(p) for p in plans],
    }


def _plan_row(plan: ReplayPlan) -> dict[str, Any]:
    return {
        "id": plan.deadletter_id,
        "task_name": plan.task_name,
        "args": plan.args,
        "verdict": plan.verdict,
        "verdict_words": ReplayVerdict.WORDS[plan.verdict],
        "refused": plan.verdict in ReplayVerdict.REFUSALS,
        "explanation": plan.explanation,
    }


def replay_start(
    *, actor: Any, scope: str, ids: list[str], query: PageQuery, max_letter_id: str
) -> DeadLetterReplayJob:
    """Start the replay job the operator confirmed after its dry run; audited."""
    if not max_letter_id.isdigit():
        raise BadFilter("max_letter_id", "run the dry run first: it says which letters the replay covers")
    selected = _ids(ids) if scope == "selected" else None
    job = deadletter_replay_job_create(
        actor=actor, max_letter_id=int(max_letter_id), filters=query.filters, letter_ids=selected
    )
    audit_record(
        actor=actor,
        action="deadletter.replay_job.started",
        target=f"replay job {job.id}",
        outcome=OperatorAction.Outcome.SUCCEEDED,
        detail={"scope": scope, "filters": query.raw, "ids": selected, "total": job.total},
    )
    shared_page_data_changed(page=PAGE)
    return job


def discard(*, actor: Any, ids: list[str], reason: str) -> int:
    """Discard the selected letters, saying why; audited (one row for the lot). Returns how many."""
    letter_ids = _ids(ids)
    if not reason.strip():
        raise BadFilter("reason", "a discard needs a reason")
    if len(reason) > 500:
        raise BadFilter("reason", "say why in at most 500 characters")
    for deadletter_id in letter_ids:
        try:
            deadletter_discard(deadletter_id=deadletter_id, actor=actor, reason=reason)
        except DeadLetter.DoesNotExist:
            continue
    audit_record(
        actor=actor,
        action="deadletter.discard",
        target=f"dead letters {', '.join(map(str, letter_ids[:20]))}{'…' if len(letter_ids) > 20 else ''}",
        outcome=OperatorAction.Outcome.SUCCEEDED,
        detail={"ids": letter_ids, "reason": reason.strip()},
    )
    shared_page_data_changed(page=PAGE)
    telemetry.totals_forget()  # the summary bar's count of new letters, too
    return len(letter_ids)


def replay_cancel(*, actor: Any, job_id: int) -> bool:
    cancelled = deadletter_replay_job_cancel(job_id=job_id, actor=actor)
    audit_record(
        actor=actor,
        action="deadletter.replay_job.cancel",
        target=f"replay job {job_id}",
        outcome=OperatorAction.Outcome.SUCCEEDED if cancelled else OperatorAction.Outcome.REFUSED,
        detail={} if cancelled else {"why": "the job had already finished"},
    )
    shared_page_data_changed(page=PAGE)
    return cancelled


def job_filters_words(job: Mapping[str, Any]) -> str:
    """A job's filters in words, for its page."""
    filters = deadletter_filter_from_json(job["filters"])
    parts = [f"{name}={value}" for name, value in deadletter_filter_words(filters).items()]
    return ", ".join(parts) or "no filter"


def deadletter_filter_words(filters: DeadLetterFilter) -> dict[str, str]:
    words = {
        "status": ",".join(filters.status),
        "task": filters.task_name,
        "queue": filters.queue,
        "reason": filters.reason,
        "exception": filters.exception_class,
        "correlation id": filters.correlation_id,
        "since": filters.failed_after.isoformat(timespec="seconds") if filters.failed_after else "",
        "up to letter": str(filters.max_id or ""),
    }
    return {k: v for k, v in words.items() if v}
