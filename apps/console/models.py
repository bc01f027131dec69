"""The console's audit trail, and the permissions of the console's actions (no table of their own)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class OperatorAction(models.Model):
    """One operator action: who did what to which target, when, and how it ended.

    Rows are written by `audit_record` only and never edited: the admin shows them read-only.
    """

    class Outcome(models.TextChoices):
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        REFUSED = "refused", "Refused"

    # SET_NULL so the trail outlives the user; `actor_username` keeps who it was.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=64)
    target = models.CharField(max_length=255, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    correlation_id = models.CharField(max_length=128, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "console_operator_actions"
        ordering = ["-created_at", "-id"]
        # Rows are never added, changed or deleted by hand: view only.
        default_permissions = ("view",)
        permissions = [
            ("view_console", "Can view the operations console"),
            ("replay_deadletters", "Can replay dead letters from the console"),
            ("cancel_queries", "Can cancel running database queries from the console"),
            ("run_drills", "Can run failure drills from the console"),
            ("control_workers", "Can revoke tasks, pause queues and stop workers from the console"),
        ]
        indexes = [
            # The audit page, newest first: ORDER BY created_at DESC LIMIT n.
            models.Index(models.F("created_at").desc(), name="console_actions_created_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(outcome__in=["succeeded", "failed", "refused"]),
                name="console_actions_outcome_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.actor_username or 'system'} {self.action} {self.target} ({self.outcome})"
