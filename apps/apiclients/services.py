"""Issue, revoke and authenticate API clients."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.apiclients.models import LAST_USED_RESOLUTION, ApiClient, ApiClientState, ApiScope
from apps.apiclients.selectors import api_client_by_token

logger = structlog.get_logger(__name__)

BOOTSTRAP_NAME = "env:bootstrap-{number}"


@dataclass(frozen=True)
class ApiPrincipal:
    """Who a bearer-token request acts as. `client_id` is None for the env bootstrap tokens."""

    name: str
    scopes: frozenset[str]
    client_id: int | None

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


class TokenRefused(Exception):
    """The token is unknown (code unauthenticated), revoked (token_revoked) or expired (token_expired)."""

    def __init__(self, code: str, *, client_name: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.client_name = client_name


class IssuedToken(NamedTuple):
    client: ApiClient
    token: str


@transaction.atomic
def api_client_create(
    *, name: str, scopes: list[str], expires_at: datetime | None = None, created_by: Any = None
) -> IssuedToken:
    """A new client and its token; the token is returned once and stored only as a digest."""
    client = ApiClient(name=name, scopes=sorted(set(scopes)), expires_at=expires_at, created_by=created_by)
    token = client.issue_token()
    client.full_clean()
    client.save()
    logger.info(
        "api_client_created",
        client=client.name,
        scopes=client.scopes,
        created_by=getattr(created_by, "username", None),
    )
    return IssuedToken(client=client, token=token)


def api_client_revoke(*, client_id: int, actor: Any = None) -> bool:
    """Revoke the client's token for good; False when it already was. One conditional UPDATE."""
    revoked = ApiClient.objects.filter(id=client_id, revoked_at=None).update(revoked_at=timezone.now()) == 1
    if revoked:
        logger.info("api_client_revoked", client_id=client_id, revoked_by=getattr(actor, "username", None))
    return revoked


def api_client_touch(*, client_id: int, now: datetime) -> bool:
    """Record a use unless one was recorded within LAST_USED_RESOLUTION.

    One conditional UPDATE, so concurrent requests of one client write at most once.
    """
    stale = Q(last_used_at=None) | Q(last_used_at__lte=now - LAST_USED_RESOLUTION)
    return ApiClient.objects.filter(stale, id=client_id).update(last_used_at=now) == 1


def _bootstrap_principal(token: str) -> ApiPrincipal | None:
    """An env API_TOKENS token is an all-scopes client named env:bootstrap-<n>, for bootstrap only."""
    # Compare against every token, in constant time each, so timing says nothing.
    matches = [hmac.compare_digest(token.encode(), known.encode()) for known in settings.API_TOKENS]
    if not any(matches):
        return None
    name = BOOTSTRAP_NAME.format(number=matches.index(True) + 1)
    return ApiPrincipal(name=name, scopes=frozenset(ApiScope.values), client_id=None)


def api_client_authenticate(*, token: str) -> ApiPrincipal:
    """The principal a bearer token acts as, or TokenRefused.

    Env tokens are checked first, without the database; otherwise one indexed
    query, plus an UPDATE of last_used_at at most once a minute per client.
    """
    principal = _bootstrap_principal(token)
    if principal is not None:
        return principal
    client = api_client_by_token(token=token)
    if client is None:
        raise TokenRefused("unauthenticated")
    now = timezone.now()
    state = client.state(now=now)
    if state != ApiClientState.ACTIVE:
        raise TokenRefused(f"token_{state}", client_name=client.name)
    if client.last_used_is_stale(now=now):
        api_client_touch(client_id=client.id, now=now)
    return ApiPrincipal(name=client.name, scopes=frozenset(client.scopes), client_id=client.id)
