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
3. A replay is enqueued when the status change commits, under a task id stored
   on the letter; the replayed task resolves the letter when it succeeds.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import structlog
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, F, JSONField, Q, Value, When
from django.utils import timezone

from apps.workers.models import (
    OPEN_STATUSES,
    DeadLetter,
    DeadLetterAction,
    DeadLetterStatus,
    deadletter_fingerprint_expression,
)
from apps.workers.selectors import DeadLetterFilter, deadletter_list
from lib.context import reset_correlation_id, set_correlation_id

logger = structlog.get_logger(__name__)

REPLAYABLE = OPEN_STATUSES
# Replays carry the letter they came from, so the task's success can resolve it (apps.workers.retry reads it).
REPLAY_HEADER = "x_deadletter_id"
# Tries of one recording that lose an insert race before giving up (the loser's retry finds the winner).
RECORD_TRIES = 3


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
    values = {**{k: v for k, v in record.__dict__.items() if k != "task_id"}, "last_failed_at": timezone.now()}
    letter = _letter_for_update(record, task_id)
    if letter is None:
        letter = DeadLetter.objects.create(task_id=task_id, **values)
        _audit(letter, DeadLetterAction.Kind.RECORDED, None, {"reason": record.reason})
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
    """What replaying `letter` would do, re-checking whether its work already took effect.

    Runs the task's idempotency probe (a query or two), if it has one.
    """
    base = {"deadletter_id": letter.id, "task_name": letter.task_name, "args": letter.args, "kwargs": letter.kwargs}
    if letter.status not in REPLAYABLE:
        return ReplayPlan(**base, will_enqueue=False, explanation=f"not replayable: the letter is {letter.status}")
    task = _task_named(letter.task_name)
    if task is None:
        return ReplayPlan(**base, will_enqueue=False, explanation="not replayable: no task of that name is registered")
    probe = getattr(task, "idempotency_probe", None)
    applied = _run_probe(probe, letter) if probe else None
    if applied:
        return ReplayPlan(**base, will_enqueue=False, explanation=f"already applied: {applied}")
    return ReplayPlan(**base, will_enqueue=True, explanation=f"enqueue {letter.task_name} with the stored arguments")


def deadletter_replay(*, deadletter_id: int, actor: Any = None, countdown: float = 0.0) -> ReplayPlan:
    """Replay one letter: enqueue its task again, or resolve it when its work already took effect."""
    with transaction.atomic():
        letter = DeadLetter.objects.select_for_update().get(id=deadletter_id)
        plan = deadletter_replay_plan(letter=letter)
        if not plan.will_enqueue:
            if plan.explanation.startswith("already applied"):
                _resolve(letter, DeadLetterAction.Kind.REPLAY_SKIPPED, actor, {"explanation": plan.explanation})
            return plan
        task_id = str(uuid.uuid4())
        letter.status = DeadLetterStatus.REPLAYED
        letter.replayed_task_id = task_id
        letter.replay_count = F("replay_count") + 1
        letter.save(update_fields=["status", "replayed_task_id", "replay_count"])
        _audit(letter, DeadLetterAction.Kind.REPLAYED, actor, {"task_id": task_id, "countdown": countdown})
        transaction.on_commit(lambda: _send_replay(letter, task_id, countdown))
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


def _send_replay(letter: DeadLetter, task_id: str, countdown: float) -> None:
    from ops_console.celery import app

    token = set_correlation_id(letter.correlation_id or None)
    try:
        app.send_task(
            letter.task_name,
            args=letter.args,
            kwargs=letter.kwargs,
            task_id=task_id,
            countdown=countdown or None,
            headers={REPLAY_HEADER: str(letter.id)},
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
