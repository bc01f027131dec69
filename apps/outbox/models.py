from __future__ import annotations

from django.db import models


class OutboxMessage(models.Model):
    """A task to enqueue, written in the same transaction as the change that calls for it.

    The committing process publishes it at once and deletes the row; a row that
    is still here after OUTBOX_RELAY_GRACE seconds lost its publish (the broker
    was down, the process died) and the relay (`manage.py outbox_relay`) sends it.
    """

    task_name = models.CharField(max_length=200)
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    correlation_id = models.CharField(max_length=128, blank=True)
    # How to send it, when not Celery's defaults: {"task_id": ..., "countdown": s, "headers": {...}} (replays).
    options = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # The relay takes the row from then on; pushed back after each failed relay attempt.
    available_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        db_table = "outbox_messages"
        ordering = ["id"]
        indexes = [
            # The relay's claim: WHERE available_at <= now() ORDER BY available_at, id LIMIT n FOR UPDATE SKIP LOCKED.
            models.Index(fields=["available_at", "id"], name="outbox_messages_available_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.task_name}{tuple(self.args)}"
