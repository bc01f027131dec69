"""Named API clients: one bearer token each, stored only as its SHA-256 digest.

The token is 256 random bits, so a fast hash is enough (nothing to brute-force)
and lets every request find its client by one indexed lookup.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models

TOKEN_PREFIX = "opc_"  # noqa: S105  (a marker that makes leaked tokens recognisable, not a secret)
# How many leading characters of a token the admin shows, to recognise it (the prefix and 6 random ones).
TOKEN_HINT_LENGTH = len(TOKEN_PREFIX) + 6
# last_used_at is written at most this often per client, so busy clients cost no write per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiScope(models.TextChoices):
    PAYMENTS_READ = "payments:read", "payments:read — read payments"
    PAYMENTS_WRITE = "payments:write", "payments:write — create payments and change their status"
    METRICS_READ = "metrics:read", "metrics:read — scrape /metrics (Prometheus)"


# The Django permission a staff session needs where a token needs the scope.
# Sessions only read (writes would need CSRF), so write scopes have none.
SESSION_PERMISSIONS: dict[str, str] = {
    ApiScope.PAYMENTS_READ: "payments.view_payment",
    ApiScope.METRICS_READ: "telemetry.view_metricsample",
}


class ApiClientState(models.TextChoices):
    ACTIVE = "active", "Active"
    EXPIRED = "expired", "Expired"
    REVOKED = "revoked", "Revoked"


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ApiClient(models.Model):
    name = models.CharField(max_length=100, help_text="Who holds the token, e.g. billing-sync. Logs name it.")
    token_digest = models.CharField(max_length=64, editable=False)
    token_hint = models.CharField(max_length=16, editable=False, help_text="The token's first characters.")
    scopes = ArrayField(models.CharField(max_length=32, choices=ApiScope.choices))
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never expires.")
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, editable=False, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "api_clients"
        ordering = ["name"]
        verbose_name = "API client"
        constraints = [
            # Admin and create_api_client: WHERE name = %s; logs name exactly one client.
            models.UniqueConstraint(fields=["name"], name="api_clients_name_uniq"),
            # Every bearer-token request: WHERE token_digest = %s.
            models.UniqueConstraint(fields=["token_digest"], name="api_clients_token_digest_uniq"),
            models.CheckConstraint(
                condition=models.Q(token_digest__regex=r"^[0-9a-f]{64}$"),  # noqa: S106
                name="api_clients_token_digest_sha256",
            ),
            models.CheckConstraint(
                condition=models.Q(scopes__contained_by=ApiScope.values) & ~models.Q(scopes=[]),
                name="api_clients_scopes_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def issue_token(self) -> str:
        """Set a new token's digest and hint and return the token: the only time it exists in plain text."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        self.token_digest = token_digest(token)
        self.token_hint = token[:TOKEN_HINT_LENGTH]
        return token

    def state(self, *, now: datetime) -> ApiClientState:
        if self.revoked_at is not None:
            return ApiClientState.REVOKED
        if self.expires_at is not None and self.expires_at <= now:
            return ApiClientState.EXPIRED
        return ApiClientState.ACTIVE

    def last_used_is_stale(self, *, now: datetime) -> bool:
        return self.last_used_at is None or self.last_used_at <= now - LAST_USED_RESOLUTION
