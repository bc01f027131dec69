"""Tasks that failed for good, kept in PostgreSQL until an operator acts on them.

Nothing here is deleted except by `deadletter_prune` (resolved or discarded
letters past DEADLETTER_RETENTION_DAYS), and each prune is itself audited.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models.functions import MD5, Cast, Concat


class DeadLetterStatus(models.TextChoices):
    NEW = "new", "New"
    REPLAYED = "replayed", "Replayed"
    DISCARDED = "discarded", "Discarded"
    RESOLVED = "resolved", "Resolved"


# A letter is open until an operator (or a successful replay) closes it.
OPEN_STATUSES = (DeadLetterStatus.NEW, DeadLetterStatus.REPLAYED)


def deadletter_fingerprint_expression(task_name: Any, args: Any, kwargs: Any) -> MD5:
    """md5(task name : args::text : kwargs::text). jsonb's text is canonical (key order, spacing), so equal calls match.

    The stored `DeadLetter.fingerprint` and the selectors that look letters up
    by call must build it here, the same way.
    """
    args_text, kwargs_text = (Cast(part, models.TextField()) for part in (args, kwargs))
    colon = models.Value(":")
    return MD5(Concat(task_name, colon, args_text, colon, kwargs_text, output_field=models.TextField()))


class DeadLetter(models.Model):
    Status = DeadLetterStatus

    # The Celery task id of the failed attempt; a replay runs under a new id.
    task_id = models.CharField(max_length=64)
    task_name = models.CharField(max_length=200)
    queue = models.CharField(max_length=100, blank=True)
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    reason = models.CharField(max_length=32)
    exception_class = models.CharField(max_length=255)
    message = models.TextField(blank=True)
    traceback = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=1)
    deliveries = models.PositiveIntegerField(default=1)
    # The task and its arguments: failures of the same call while the letter is open update this letter.
    fingerprint = models.GeneratedField(
        expression=deadletter_fingerprint_expression(models.F("task_name"), models.F("args"), models.F("kwargs")),
        output_field=models.CharField(max_length=32),
        db_persist=True,
    )
    # Failures grouped into this letter: the same call again while open, or its message redelivered.
    failures = models.PositiveIntegerField("count", default=1)
    correlation_id = models.CharField(max_length=128, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NEW)
    replayed_task_id = models.CharField(max_length=64, blank=True)
    # This failure is a replay of that (closed) letter: an operator follows the chain. SET_NULL outlives pruning.
    replay_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="failed_replays"
    )
    replay_count = models.PositiveIntegerField(default=0)
    first_failed_at = models.DateTimeField(auto_now_add=True)
    last_failed_at = models.DateTimeField("last seen", auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "dead_letters"
        ordering = ["-last_failed_at", "-id"]
        constraints = [
            # Recording: WHERE task_id = %s FOR UPDATE; one letter per failed task id, however often it is redelivered.
            models.UniqueConstraint(fields=["task_id"], name="dead_letters_task_id_uniq"),
            # Recording and the resume job: WHERE fingerprint = %s AND status IN (new, replayed); one open letter per call.
            models.UniqueConstraint(
                fields=["fingerprint"],
                condition=models.Q(status__in=OPEN_STATUSES),
                name="dead_letters_open_fingerprint_uniq",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=DeadLetterStatus.values), name="dead_letters_status_valid"
            ),
        ]
        indexes = [
            # Operators' queue: WHERE status = %s [AND task_name = %s] ORDER BY last_failed_at DESC.
            models.Index(
                "status", "task_name", models.F("last_failed_at").desc(), name="dead_letters_status_task_failed_idx"
            ),
            # Grouping and filter by exception: WHERE status = %s GROUP BY exception_class.
            models.Index(fields=["status", "exception_class"], name="dead_letters_status_exception_idx"),
            # Filter by queue: WHERE queue = %s ORDER BY last_failed_at DESC.
            models.Index("queue", models.F("last_failed_at").desc(), name="dead_letters_queue_failed_idx"),
            # Changelist default order and the date filter: ORDER BY last_failed_at DESC / WHERE last_failed_at >= %s.
            models.Index(models.F("last_failed_at").desc(), models.F("id").desc(), name="dead_letters_failed_idx"),
            # Pruning: WHERE status IN (resolved, discarded) AND resolved_at < %s.
            models.Index(fields=["status", "resolved_at"], name="dead_letters_status_resolved_idx"),
            # The console's search by payment or call, any status: WHERE fingerprint IN (md5 of each call).
            models.Index(fields=["fingerprint"], name="dead_letters_fingerprint_idx"),
            # The console's search by correlation id: WHERE correlation_id = %s.
            models.Index(fields=["correlation_id"], name="dead_letters_correlation_idx"),
        ]

    def __str__(self) -> str:
        return f"Dead letter {self.pk} {self.task_name} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class DeadLetterAction(models.Model):
    """The audit trail: who did what to which dead letter, and when."""

    class Kind(models.TextChoices):
        RECORDED = "recorded", "Recorded"
        REPLAYED = "replayed", "Replayed"
        REPLAY_SKIPPED = "replay_skipped", "Replay skipped (already applied)"
        REPLAY_REFUSED = "replay_refused", "Replay refused (arguments invalid, or payment refunded)"
        DISCARDED = "discarded", "Discarded"
        RESOLVED = "resolved", "Resolved"
        PRUNED = "pruned", "Pruned"

    # SET_NULL so the trail outlives a pruned letter; `dead_letter_ref` keeps its id.
    dead_letter = models.ForeignKey(
        DeadLetter, on_delete=models.SET_NULL, null=True, blank=True, related_name="actions", db_index=False
    )
    dead_letter_ref = models.BigIntegerField(null=True, blank=True)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    # The staff user; empty for the system (workers, beat).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "dead_letter_actions"
        ordering = ["-created_at", "-id"]
        indexes = [
            # A letter's history: WHERE dead_letter_ref = %s ORDER BY created_at.
            models.Index(fields=["dead_letter_ref", "created_at"], name="dead_letter_actions_letter_idx"),
            # The trail, newest first: ORDER BY created_at DESC.
            models.Index(models.F("created_at").desc(), name="dead_letter_actions_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} on dead letter {self.dead_letter_ref}"


class ReplayJobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    CANCELLED = "cancelled", "Cancelled"
    FAILED = "failed", "Failed"


# A job still to finish: the console shows its progress, the task keeps working on it.
ACTIVE_JOB_STATUSES = (ReplayJobStatus.QUEUED, ReplayJobStatus.RUNNING)


class DeadLetterReplayJob(models.Model):
    """A replay of many letters (selected, or all matching a filter) run by a worker, throttled, with progress.

    The letters are those matching `filters` (or listed in `letter_ids`) with an id up to
    `max_letter_id`, the newest the operator's dry run saw: a replay that fails again files a
    newer letter, which this job never picks up, so a job cannot chase its own failures.
    The worker walks them in id order; `cursor` is the last id handled, so a job whose
    worker died resumes where it stopped.
    """

    Status = ReplayJobStatus

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_username = models.CharField(max_length=150, blank=True)
    filters = models.JSONField(default=dict, blank=True)
    letter_ids = models.JSONField(null=True, blank=True)
    max_letter_id = models.BigIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(default=0)
    cursor = models.BigIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    replayed = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    refused = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=255, blank=True)
    correlation_id = models.CharField(max_length=128, blank=True)
    # A worker holds the job until then; another may take it over after (a worker that died).
    lease_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "dead_letter_replay_jobs"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=ReplayJobStatus.values), name="dead_letter_replay_jobs_status_valid"
            ),
        ]
        indexes = [
            # The console's job list, newest first: ORDER BY created_at DESC LIMIT n.
            models.Index(models.F("created_at").desc(), name="dead_letter_replay_jobs_created_idx"),
        ]

    def __str__(self) -> str:
        return f"Replay job {self.pk} ({self.status}, {self.done}/{self.total})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_JOB_STATUSES
