"""Dead-letter writes: record a failure, replay, discard, prune. The admin and the console call these.

Concurrency, in order:
1. Recording groups failures: a message redelivered after it was
   dead-lettered (same task id), or the same task failing again with the same
   arguments while its letter is open (same fingerprint), updates that letter
   under a row lock. A new letter relies on the unique indexes
   (dead_letters_task_id_uniq, dead_letters_open_fingerprint_uniq): a racing
   recorder's insert fails, and its retry finds and updates the winner's letter.
2. Replay and discard lock the letter (SELECT ... FOR UPDATE), so two
   operators clicking at once produce one replay.
3. A replay is written to the transactional outbox (apps/outbox) in the
   transaction that marks the letter replayed, under a task id stored on the
   letter: "replayed" commits with a durable hand-off, which is published at
   once or, with the broker away, by the relay. The replayed task resolves the
   letter when it succeeds; if it fails for good after its letter was closed,
   the new letter names the old one (`replay_of`).
"""

from __future__ import annotations

import datetime
import inspect
import time
import typing
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import structlog
from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Case, F, JSONField, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.console.models import OperatorAction
from apps.console.services import audit_record
from apps.outbox.services import SendOptions, outbox_enqueue
from apps.workers.models import (
    ACTIVE_JOB_STATUSES,
    OPEN_STATUSES,
    DeadLetter,
    DeadLetterAction,
    DeadLetterReplayJob,
    DeadLetterStatus,
    ReplayJobStatus,
    deadletter_fingerprint_expression,
)
from apps.workers.selectors import (
    DeadLetterFilter,
    deadletter_count_capped,
    deadletter_filter_from_json,
    deadletter_filter_to_json,
    deadletter_list,
)
from lib.context import get_correlation_id, reset_correlation_id, set_correlation_id

logger = structlog.get_logger(__name__)

REPLAYABLE = OPEN_STATUSES
# Replays carry the letter they came from, so the task's success can resolve it (apps.workers.retry reads it).
REPLAY_HEADER = "x_deadletter_id"
# Tries of one recording that lose an insert race before giving up (the loser's retry finds the winner).
RECORD_TRIES = 3
# The task that runs replay jobs (apps/workers/tasks.py), named here so the outbox row can be written.
REPLAY_JOB_TASK = "deadletters.replay_job"
# Letters a job looks up at a time, in id order.
REPLAY_JOB_PAGE = 50
# A job's worker holds it this much longer than its run's budget; past that another may take it over.
REPLAY_JOB_LEASE_MARGIN_S = 30.0


class DeadLetterError(Exception):
    code = "deadletter_error"


@dataclass(frozen=True)
class DeadLetterRecord:
    task_id: str
    task_name: str
    queue: str
    args: list[Any]
    kwargs: dict[str, Any]
    exception_class: str
    message: str
    traceback: str
    reason: str
    attempts: int
    deliveries: int
    correlation_id: str = ""
    # The letter whose replay this failure is (the task's x_deadletter_id header), if any.
    replay_of: int | None = None


class ReplayVerdict:
    """What replaying a letter would do now, as the dry run says it. Only WOULD_RUN sends anything."""

    WOULD_RUN = "would_run"
    ALREADY_APPLIED = "already_applied"  # skip: the letter is resolved, nothing is sent
    INVALID_ARGUMENTS = "invalid_arguments"  # refuse: the task's signature no longer takes these arguments
    PAYMENT_REFUNDED = "payment_refunded"  # refuse: the payment behind the call was refunded since
    NOT_REPLAYABLE = "not_replayable"  # refuse: the letter is closed, or no task has its name

    WORDS = {
        WOULD_RUN: "would run",
        ALREADY_APPLIED: "already applied — skip",
        INVALID_ARGUMENTS: "arguments no longer valid — refuse",
        PAYMENT_REFUNDED: "payment since refunded — refuse",
        NOT_REPLAYABLE: "not replayable — refuse",
    }
    REFUSALS = (INVALID_ARGUMENTS, PAYMENT_REFUNDED, NOT_REPLAYABLE)


@dataclass(frozen=True)
class ReplayPlan:
    """What a replay of one letter does (or, in a dry run, would do)."""

    deadletter_id: int
    task_name: str
    args: list[Any]
    kwargs: dict[str, Any]
    will_enqueue: bool
    explanation: str
    countdown: float = 0.0
    task_id: str = field(default="")
    verdict: str = ReplayVerdict.WOULD_RUN


# --- recording ------------------------------------------------------------------


def deadletter_record(*, record: DeadLetterRecord) -> DeadLetter:
    """File a failure: one letter per task id, and one open letter per task and arguments.

    A repeat updates its letter (count, last seen, the latest error, task id and
    correlation id) instead of adding a row, so a step that keeps failing does
    not bury the queue. Two or three queries; step 1 of the module docstring.
    """
    task_id = record.task_id or f"direct-{uuid.uuid4().hex}"
    for attempt in range(1, RECORD_TRIES + 1):
        try:
            with transaction.atomic():
                return _record_once(record, task_id)
        except IntegrityError:  # a racing recorder inserted the letter first
            if attempt == RECORD_TRIES:
                raise
            logger.info("deadletter_record_race_lost", task_name=record.task_name, attempt=attempt)
    raise AssertionError("unreachable")


def _record_once(record: DeadLetterRecord, task_id: str) -> DeadLetter:
    values = {
        **{k: v for k, v in record.__dict__.items() if k not in ("task_id", "replay_of")},
        "last_failed_at": timezone.now(),
    }
    letter = _letter_for_update(record, task_id)
    if letter is None:
        replay_of = _replayed_letter_id(record.replay_of)
        letter = DeadLetter.objects.create(task_id=task_id, replay_of_id=replay_of, **values)
        detail = {"reason": record.reason, **({"replay_of": replay_of} if replay_of else {})}
        _audit(letter, DeadLetterAction.Kind.RECORDED, None, detail)
        return letter
    if letter.status == DeadLetterStatus.REPLAYED:  # back to the operators' queue; its replay may yet resolve it
        letter.status = DeadLetterStatus.NEW
        detail = {"reason": record.reason, "task_id": task_id, "after_replay": letter.replayed_task_id}
        _audit(letter, DeadLetterAction.Kind.RECORDED, None, detail)
    for name, value in {**values, "task_id": task_id}.items():
        setattr(letter, name, value)
    letter.failures += 1
    letter.save()
    return letter


def _replayed_letter_id(deadletter_id: int | None) -> int | None:
    """The replayed letter's id if it still exists (pruning may have removed it). One query, or none."""
    if deadletter_id is None:
        return None
    return deadletter_id if DeadLetter.objects.filter(id=deadletter_id).exists() else None


def _letter_for_update(record: DeadLetterRecord, task_id: str) -> DeadLetter | None:
    """The letter this failure belongs to, locked: its task id's (a redelivery), else the open one for its call."""
    same_call = deadletter_fingerprint_expression(
        Value(record.task_name),
        Value(record.args, output_field=JSONField()),
        Value(record.kwargs, output_field=JSONField()),
    )
    return (
        DeadLetter.objects.select_for_update()
        .filter(Q(task_id=task_id) | Q(fingerprint=same_call, status__in=OPEN_STATUSES))
        .order_by(Case(When(task_id=task_id, then=0), default=1))
        .first()
    )


# --- replay ---------------------------------------------------------------------


def deadletter_replay_plan(*, letter: DeadLetter) -> ReplayPlan:
    """What replaying `letter` would do now (a ReplayVerdict), checked in this order:

    1. the letter is open and a task has its name;
    2. the stored arguments still bind to the task's signature (and its int/str annotations);
    3. the task's idempotency probe: its work already took effect (skip, resolving the letter);
    4. the task's replay guard: the world moved on, e.g. the payment was refunded (refuse).

    Runs the task's probe and guard (a query or two each), if it has them.
    """
    base = {"deadletter_id": letter.id, "task_name": letter.task_name, "args": letter.args, "kwargs": letter.kwargs}

    def plan(verdict: str, explanation: str) -> ReplayPlan:
        return ReplayPlan(**base, will_enqueue=verdict == ReplayVerdict.WOULD_RUN, explanation=explanation,
                          verdict=verdict)  # fmt: skip

    if letter.status not in REPLAYABLE:
        return plan(ReplayVerdict.NOT_REPLAYABLE, f"not replayable: the letter is {letter.status}")
    task = _task_named(letter.task_name)
    if task is None:
        return plan(ReplayVerdict.NOT_REPLAYABLE, "not replayable: no task of that name is registered")
    invalid = deadletter_arguments_problem(task=task, args=letter.args, kwargs=letter.kwargs)
    if invalid:
        return plan(ReplayVerdict.INVALID_ARGUMENTS, f"arguments no longer valid: {invalid}")
    probe = getattr(task, "idempotency_probe", None)
    applied = _run_probe(probe, letter) if probe else None
    if applied:
        return plan(ReplayVerdict.ALREADY_APPLIED, f"already applied: {applied}")
    guard = getattr(task, "replay_guard", None)
    refusal = _run_probe(guard, letter) if guard else None
    if refusal:
        return plan(ReplayVerdict.PAYMENT_REFUNDED, f"refused: {refusal}")
    return plan(ReplayVerdict.WOULD_RUN, f"enqueue {letter.task_name} with the stored arguments")


def deadletter_arguments_problem(*, task: Any, args: Any, kwargs: Any) -> str | None:
    """Why `args` / `kwargs` no longer fit the task's function (its signature changed since); None if they do.

    Binds them to the signature, then checks the values of parameters annotated int or str.
    """
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        return "the stored arguments are not a list and a mapping"
    function = getattr(task, "run", task)
    try:
        bound = inspect.signature(function).bind(*args, **kwargs)
    except TypeError as exc:
        return f"{task.name}{inspect.signature(function)} does not take them ({exc})"
    try:
        hints = typing.get_type_hints(function)
    except Exception:  # an annotation that no longer resolves: the signature check above is what we have
        hints = {}
    for name, value in bound.arguments.items():
        expected = hints.get(name)
        if expected in (int, str) and (isinstance(value, bool) or not isinstance(value, expected)):
            return f"{name} must be {expected.__name__}, the letter has {value!r}"
    return None


def deadletter_replay(*, deadletter_id: int, actor: Any = None, countdown: float = 0.0) -> ReplayPlan:
    """Replay one letter: enqueue its task again, or resolve it when its work already took effect."""
    with transaction.atomic():
        letter = DeadLetter.objects.select_for_update().get(id=deadletter_id)
        plan = deadletter_replay_plan(letter=letter)
        if not plan.will_enqueue:
            if plan.verdict == ReplayVerdict.ALREADY_APPLIED:
                _resolve(letter, DeadLetterAction.Kind.REPLAY_SKIPPED, actor, {"explanation": plan.explanation})
            elif letter.is_open:
                detail = {"verdict": plan.verdict, "explanation": plan.explanation}
                _audit(letter, DeadLetterAction.Kind.REPLAY_REFUSED, actor, detail)
            return plan
        task_id = str(uuid.uuid4())
        letter.status = DeadLetterStatus.REPLAYED
        letter.replayed_task_id = task_id
        letter.replay_count = F("replay_count") + 1
        letter.save(update_fields=["status", "replayed_task_id", "replay_count"])
        _audit(letter, DeadLetterAction.Kind.REPLAYED, actor, {"task_id": task_id, "countdown": countdown})
        _hand_off_replay(letter, task_id, countdown)
    logger.info("deadletter_replayed", deadletter_id=letter.id, task_name=letter.task_name, replay_task_id=task_id)
    return ReplayPlan(**{**plan.__dict__, "task_id": task_id, "countdown": countdown})


def deadletter_replay_selected(*, deadletter_ids: Iterable[int], actor: Any = None) -> list[ReplayPlan]:
    """Replay each letter, throttled to DEADLETTER_REPLAY_RATE per second (staggered countdowns)."""
    ids = list(deadletter_ids)[: settings.DEADLETTER_REPLAY_MAX_BATCH]
    interval = 1 / settings.DEADLETTER_REPLAY_RATE
    return [deadletter_replay(deadletter_id=i, actor=actor, countdown=n * interval) for n, i in enumerate(ids)]


def deadletter_replay_matching(*, filters: DeadLetterFilter, actor: Any = None) -> list[ReplayPlan]:
    """Replay every replayable letter matching `filters`, at most DEADLETTER_REPLAY_MAX_BATCH per call."""
    ids = deadletter_list(filters=filters.replayable()).values_list("id", flat=True)
    return deadletter_replay_selected(deadletter_ids=ids[: settings.DEADLETTER_REPLAY_MAX_BATCH], actor=actor)


def deadletter_dry_run(*, deadletter_ids: Iterable[int]) -> list[ReplayPlan]:
    """What replaying these letters would do; changes nothing."""
    letters = DeadLetter.objects.filter(id__in=list(deadletter_ids)).order_by("id")
    return [deadletter_replay_plan(letter=letter) for letter in letters]


def deadletter_mark_resolved_by_replay(*, deadletter_id: int, task_id: str) -> bool:
    """A replayed task succeeded: resolve its letter (a conditional update; a repeat does nothing).

    Also when the letter went back to new meanwhile (the same call failed again
    elsewhere): the work is done now.
    """
    resolved = DeadLetter.objects.filter(id=deadletter_id, status__in=OPEN_STATUSES, replayed_task_id=task_id).update(
        status=DeadLetterStatus.RESOLVED, resolved_at=timezone.now()
    )
    if resolved:
        DeadLetterAction.objects.create(
            dead_letter_id=deadletter_id,
            dead_letter_ref=deadletter_id,
            kind=DeadLetterAction.Kind.RESOLVED,
            detail={"by": "replay_succeeded", "task_id": task_id},
        )
    return bool(resolved)


def _hand_off_replay(letter: DeadLetter, task_id: str, countdown: float) -> None:
    """One outbox INSERT in the caller's transaction, carrying the letter's correlation id. Sent after commit."""
    token = set_correlation_id(letter.correlation_id or None)
    try:
        outbox_enqueue(
            task_name=letter.task_name,
            args=letter.args,
            kwargs=letter.kwargs,
            options=SendOptions(task_id=task_id, countdown=countdown or None, headers={REPLAY_HEADER: str(letter.id)}),
        )
    finally:
        reset_correlation_id(token)


def _task_named(name: str) -> Any:
    from ops_console.celery import app

    if name not in app.tasks:
        app.loader.import_default_modules()
    return app.tasks.get(name)


def _run_probe(probe: Any, letter: DeadLetter) -> str | None:
    try:
        return probe(*letter.args, **letter.kwargs)
    except Exception as exc:  # a malformed letter: replay it and let the task dead-letter it again
        logger.warning("deadletter_probe_failed", deadletter_id=letter.id, error_class=type(exc).__name__)
        return None


# --- replay jobs: many letters, throttled, with progress -------------------------------


def deadletter_dry_run_matching(*, filters: DeadLetterFilter, limit: int) -> tuple[list[ReplayPlan], int | None]:
    """The verdict of the first `limit` replayable letters matching `filters` (id order, as a job replays them).

    Also the newest letter id among all matches (the bound of the job the operator may start), or None
    when nothing matches. Changes nothing; runs each letter's probe and guard.
    """
    letters = deadletter_list(filters=filters.replayable()).order_by("id")
    newest = letters.order_by("-id").values_list("id", flat=True).first()
    return [deadletter_replay_plan(letter=letter) for letter in letters[:limit]], newest


def deadletter_replay_job_create(
    *,
    actor: Any,
    max_letter_id: int,
    filters: DeadLetterFilter | None = None,
    letter_ids: Iterable[int] | None = None,
) -> DeadLetterReplayJob:
    """Start replaying the letters selected (`letter_ids`) or matching `filters`, up to `max_letter_id`.

    The job row and its task's outbox row commit together: the job runs once the
    transaction commits (or, with the broker away, once the relay publishes it). Three queries.
    """
    ids = sorted(set(letter_ids))[: settings.DEADLETTER_REPLAY_MAX_BATCH] if letter_ids is not None else None
    bound = replace_filters(filters or DeadLetterFilter(), max_letter_id)
    total = (
        len(ids)
        if ids is not None
        else deadletter_count_capped(filters=bound.replayable(), cap=settings.DEADLETTER_REPLAY_JOB_MAX)
    )
    authenticated = actor is not None and actor.is_authenticated
    with transaction.atomic():
        job = DeadLetterReplayJob.objects.create(
            actor=actor if authenticated else None,
            actor_username=actor.get_username() if authenticated else "",
            filters=deadletter_filter_to_json(bound),
            letter_ids=ids,
            max_letter_id=max_letter_id,
            total=min(total, settings.DEADLETTER_REPLAY_JOB_MAX),
            correlation_id=get_correlation_id() or "",
        )
        outbox_enqueue(task_name=REPLAY_JOB_TASK, args=[job.id])
    logger.info("deadletter_replay_job_created", job_id=job.id, total=job.total, selected=ids is not None)
    return job


def replace_filters(filters: DeadLetterFilter, max_id: int) -> DeadLetterFilter:
    bound = max_id if filters.max_id is None else min(filters.max_id, max_id)
    return DeadLetterFilter(**{**filters.__dict__, "max_id": bound})


def deadletter_replay_job_cancel(*, job_id: int, actor: Any) -> bool:
    """Stop a job between two letters (a conditional update; the worker sees it before its next letter)."""
    cancelled = DeadLetterReplayJob.objects.filter(id=job_id, status__in=ACTIVE_JOB_STATUSES).update(
        status=ReplayJobStatus.CANCELLED, finished_at=timezone.now(), lease_until=None
    )
    logger.info("deadletter_replay_job_cancelled", job_id=job_id, cancelled=bool(cancelled))
    return bool(cancelled)


def deadletter_replay_job_run(*, job_id: int, budget_s: float) -> bool:
    """Work on the job for at most `budget_s`: replay its next letters, DEADLETTER_REPLAY_RATE per second.

    1. claim it (a conditional update: one worker at a time; a dead worker's lease runs out);
    2. replay letter after letter in id order, saving the cursor and the counts after each
       (the save is conditional on the job still running: a cancel stops it there);
    3. out of letters: the job succeeded, and the audit trail says so;
       out of time: the job is handed back to the outbox with the progress, to continue.
    Returns whether the job continues in another run.
    """
    now = timezone.now()
    lease = datetime.timedelta(seconds=budget_s + REPLAY_JOB_LEASE_MARGIN_S)
    claimed = (
        DeadLetterReplayJob.objects.filter(id=job_id, status__in=ACTIVE_JOB_STATUSES)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(status=ReplayJobStatus.RUNNING, lease_until=now + lease, started_at=Coalesce(F("started_at"), now))
    )  # 1.
    if not claimed:
        logger.info("deadletter_replay_job_not_claimed", job_id=job_id)
        return False
    job = DeadLetterReplayJob.objects.get(id=job_id)
    deadline = time.monotonic() + budget_s
    interval = 1 / settings.DEADLETTER_REPLAY_RATE
    while time.monotonic() < deadline:  # 2.
        letter_ids = _job_next_ids(job)
        if not letter_ids:
            _job_finish(job)  # 3.
            return False
        for deadletter_id in letter_ids:
            if time.monotonic() >= deadline:
                break
            started = time.monotonic()
            if not _job_step(job, deadletter_id):
                return False  # cancelled
            time.sleep(max(0.0, interval - (time.monotonic() - started)))
    with transaction.atomic():  # 3.
        DeadLetterReplayJob.objects.filter(id=job.id, status=ReplayJobStatus.RUNNING).update(lease_until=None)
        outbox_enqueue(task_name=REPLAY_JOB_TASK, args=[job.id])
    return True


def _job_letters(job: DeadLetterReplayJob) -> QuerySet[DeadLetter]:
    if job.letter_ids is not None:
        return DeadLetter.objects.filter(id__in=job.letter_ids)
    return deadletter_list(filters=deadletter_filter_from_json(job.filters).replayable())


def _job_next_ids(job: DeadLetterReplayJob) -> list[int]:
    """The next page of the job's letters after its cursor; none once it has handled `total` of them. One query."""
    left = job.total - job.done
    if left <= 0:
        return []
    letters = _job_letters(job).filter(id__gt=job.cursor, id__lte=job.max_letter_id).order_by("id")
    return list(letters.values_list("id", flat=True)[: min(REPLAY_JOB_PAGE, left)])


def _job_step(job: DeadLetterReplayJob, deadletter_id: int) -> bool:
    """Replay one letter for the job and save the progress; False when the job was cancelled meanwhile."""
    counts = {"replayed": 0, "skipped": 0, "refused": 0, "errors": 0}
    error = ""
    try:
        plan = deadletter_replay(deadletter_id=deadletter_id, actor=job.actor)
    except DeadLetter.DoesNotExist:
        counts["errors"], error = 1, f"dead letter {deadletter_id} no longer exists"
    except DatabaseError as exc:
        counts["errors"], error = 1, f"dead letter {deadletter_id}: {type(exc).__name__}"
    else:
        outcome = {ReplayVerdict.WOULD_RUN: "replayed", ReplayVerdict.ALREADY_APPLIED: "skipped"}
        counts[outcome.get(plan.verdict, "refused")] = 1
    job.cursor, job.done = deadletter_id, job.done + 1
    extra = {"last_error": error} if error else {}
    saved = DeadLetterReplayJob.objects.filter(id=job.id, status=ReplayJobStatus.RUNNING).update(
        cursor=deadletter_id, done=F("done") + 1, **{k: F(k) + v for k, v in counts.items() if v}, **extra
    )
    return bool(saved)


def _job_finish(job: DeadLetterReplayJob) -> None:
    finished = DeadLetterReplayJob.objects.filter(id=job.id, status=ReplayJobStatus.RUNNING).update(
        status=ReplayJobStatus.SUCCEEDED, finished_at=timezone.now(), lease_until=None
    )
    if not finished:
        return
    job.refresh_from_db()
    detail = {k: getattr(job, k) for k in ("total", "done", "replayed", "skipped", "refused", "errors")}
    audit_record(
        actor=job.actor,
        action="deadletter.replay_job.finished",
        target=f"replay job {job.id}",
        outcome=OperatorAction.Outcome.SUCCEEDED if not job.errors else OperatorAction.Outcome.FAILED,
        correlation_id=job.correlation_id,
        detail=detail,
    )
    logger.info("deadletter_replay_job_finished", job_id=job.id, **detail)


# --- discard, resolve, prune ------------------------------------------------------


def deadletter_discard(*, deadletter_id: int, actor: Any, reason: str) -> DeadLetter:
    """Give up on a letter, saying why. A discarded letter can no longer be replayed."""
    if not reason.strip():
        raise DeadLetterError("A discard needs a reason.")
    with transaction.atomic():
        letter = DeadLetter.objects.select_for_update().get(id=deadletter_id)
        if letter.status == DeadLetterStatus.DISCARDED:
            return letter
        letter.status = DeadLetterStatus.DISCARDED
        letter.resolved_at = timezone.now()
        letter.save(update_fields=["status", "resolved_at"])
        _audit(letter, DeadLetterAction.Kind.DISCARDED, actor, {"reason": reason.strip()})
    logger.info("deadletter_discarded", deadletter_id=letter.id)
    return letter


def deadletter_prune(*, now: datetime.datetime | None = None, limit: int = 10_000) -> int:
    """Delete resolved and discarded letters older than DEADLETTER_RETENTION_DAYS; audited, never silent.

    New and replayed letters are never pruned: only an operator closes them.
    """
    cutoff = (now or timezone.now()) - datetime.timedelta(days=settings.DEADLETTER_RETENTION_DAYS)
    with transaction.atomic():
        ids = list(
            DeadLetter.objects.filter(
                status__in=[DeadLetterStatus.RESOLVED, DeadLetterStatus.DISCARDED], resolved_at__lt=cutoff
            ).values_list("id", flat=True)[:limit]
        )
        if not ids:
            return 0
        DeadLetter.objects.filter(id__in=ids).delete()
        DeadLetterAction.objects.create(
            kind=DeadLetterAction.Kind.PRUNED,
            detail={"count": len(ids), "ids": ids[:1000], "older_than": cutoff.isoformat()},
        )
    logger.info("deadletters_pruned", count=len(ids), older_than=cutoff.isoformat())
    return len(ids)


def _resolve(letter: DeadLetter, kind: str, actor: Any, detail: dict[str, Any]) -> None:
    letter.status = DeadLetterStatus.RESOLVED
    letter.resolved_at = timezone.now()
    letter.save(update_fields=["status", "resolved_at"])
    _audit(letter, kind, actor, detail)


def _audit(letter: DeadLetter, kind: str, actor: Any, detail: dict[str, Any]) -> None:
    DeadLetterAction.objects.create(
        dead_letter=letter,
        dead_letter_ref=letter.id,
        kind=kind,
        actor=actor if getattr(actor, "pk", None) else None,
        detail=detail,
    )
