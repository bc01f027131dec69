"""The cluster's history (one row per series per sample) and its alerts (one row per firing episode)."""

from __future__ import annotations

from django.contrib.postgres.indexes import BrinIndex
from django.db import models


class MetricSample(models.Model):
    """One value of one series (a dotted tile key, e.g. "http.p95_ms") at one sample time; beat writes every 30 s."""

    name = models.CharField(max_length=100)
    sampled_at = models.DateTimeField()
    # None: the number was unknown at that time (a dependency was down), never invented.
    value = models.FloatField(null=True)

    class Meta:
        db_table = "telemetry_samples"
        indexes = [
            # History and alert rules: WHERE name = ANY(%s) AND sampled_at > %s.
            models.Index(fields=["name", "sampled_at"], name="telemetry_samples_name_sampled_idx"),
            # Retention: DELETE ... WHERE sampled_at < %s (rows arrive in time order, so a BRIN index is tiny).
            BrinIndex(fields=["sampled_at"], name="telemetry_samples_sampled_brin"),
        ]

    def __str__(self) -> str:
        return f"{self.name}={self.value} at {self.sampled_at:%Y-%m-%d %H:%M:%S}"


class MetricRollup(models.Model):
    """The average of one series over one bucket of `step` seconds, kept up to date by each sample.

    History over 24 h and 7 d reads these (288 rows per series) instead of up
    to ~20 000 raw samples: the sampler adds each value to its buckets
    (total += value, count += 1) in the transaction that stores the sample.
    """

    step = models.PositiveIntegerField()  # seconds per bucket: ROLLUP_STEPS in services.py
    name = models.CharField(max_length=100)
    bucket = models.DateTimeField()  # start of the bucket (a multiple of `step` since the epoch)
    total = models.FloatField(default=0.0)  # sum of the known values
    count = models.PositiveIntegerField(default=0)  # how many values were known (None is not counted)

    class Meta:
        db_table = "telemetry_rollups"
        constraints = [
            # The sampler's upsert (ON CONFLICT) and history: WHERE step = %s AND name = ANY(%s) AND bucket > %s.
            models.UniqueConstraint(fields=["step", "name", "bucket"], name="telemetry_rollups_step_name_bucket_uniq"),
        ]
        indexes = [
            # Retention: DELETE ... WHERE bucket < %s (buckets arrive in time order, so a BRIN index is tiny).
            BrinIndex(fields=["bucket"], name="telemetry_rollups_bucket_brin"),
        ]

    def __str__(self) -> str:
        return f"{self.name} over {self.step} s at {self.bucket:%Y-%m-%d %H:%M:%S}"


class AlertState(models.TextChoices):
    FIRING = "firing", "Firing"
    RESOLVED = "resolved", "Resolved"


class Alert(models.Model):
    """One episode of one rule: firing since `since`, resolved at `resolved_at`."""

    State = AlertState

    rule = models.CharField(max_length=64)
    state = models.CharField(max_length=16, choices=AlertState.choices, default=AlertState.FIRING)
    since = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    # The latest value the rule saw while firing, and the threshold it was compared with.
    value = models.FloatField(null=True, blank=True)
    threshold = models.FloatField(null=True, blank=True)
    summary = models.CharField(max_length=300)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "telemetry_alerts"
        ordering = ["-since", "-id"]
        constraints = [
            # Evaluation and the banner: WHERE state = 'firing'; at most one open episode per rule.
            models.UniqueConstraint(
                fields=["rule"], condition=models.Q(state=AlertState.FIRING), name="telemetry_alerts_firing_rule_uniq"
            ),
            models.CheckConstraint(
                condition=models.Q(state__in=AlertState.values), name="telemetry_alerts_state_valid"
            ),
        ]
        indexes = [
            # alert_list: ORDER BY since DESC LIMIT %s.
            models.Index(models.F("since").desc(), models.F("id").desc(), name="telemetry_alerts_since_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.rule} {self.state} since {self.since:%Y-%m-%d %H:%M:%S}"
