from __future__ import annotations

from apps.apiclients.models import ApiClient, token_digest


def api_client_by_token(*, token: str) -> ApiClient | None:
    """The client holding `token`, revoked and expired ones included. One indexed query."""
    return ApiClient.objects.filter(token_digest=token_digest(token)).order_by().first()
