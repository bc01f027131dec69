"""The payment timeline: what happened to a payment and everything it caused, one row per event."""

from __future__ import annotations

from django.contrib.postgres.indexes import BrinIndex
from django.db import models


class TimelineKind(models.TextChoices):
    STATE = "state", "State change"
    PROVIDER = "provider", "Provider call"
    TASK = "task", "Pipeline task"
    PUSH = "push", "Event pushed to browsers"


class TimelineEvent(models.Model):
    """One event, keyed by its subject ("payment:12", "purchase:7", "allocation:3") and correlation id.

    No foreign keys: rows are written in batches off the hot path, may outlive
    what they describe, and are pruned by age (TIMELINE_RETENTION_DAYS).
    """

    Kind = TimelineKind

    occurred_at = models.DateTimeField()
    subject = models.CharField(max_length=64)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # state: the new status; provider: charge / lookup; task: enqueued / started / retried / succeeded /
    # dead_lettered; push: the event type.
    name = models.CharField(max_length=64)
    # Who did it: api / webhook / reconciliation / operator for a state change, the task's name for a task.
    actor = models.CharField(max_length=64, blank=True)
    correlation_id = models.CharField(max_length=128, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "timeline_events"
        ordering = ["occurred_at", "id"]
        default_permissions = ("view",)
        indexes = [
            # A payment's timeline: WHERE subject IN (payment, its purchases, allocations) ORDER BY occurred_at.
            models.Index(fields=["subject", "occurred_at"], name="timeline_events_subject_at_idx"),
            # Search by correlation id: WHERE correlation_id = %s (rows without one are left out).
            models.Index(
                fields=["correlation_id"],
                condition=~models.Q(correlation_id=""),
                name="timeline_events_correlation_idx",
            ),
            # Pruning by age: WHERE occurred_at < %s. BRIN: rows arrive in time order, and it stays tiny.
            BrinIndex(fields=["occurred_at"], name="timeline_events_at_brin"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=["state", "provider", "task", "push"]), name="timeline_events_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%H:%M:%S} {self.subject} {self.kind} {self.name}"
