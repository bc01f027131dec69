from __future__ import annotations

from typing import Any

import factory

from apps.apiclients.models import ApiClient, ApiScope


class ApiClientFactory(factory.django.DjangoModelFactory):
    """A saved client; `client.token` holds its plain-text token, for the test to send."""

    class Meta:
        model = ApiClient

    name = factory.Sequence(lambda n: f"client-{n}")
    scopes = factory.LazyFunction(lambda: [ApiScope.PAYMENTS_READ.value])

    @classmethod
    def _create(cls, model_class: type[ApiClient], *args: Any, **kwargs: Any) -> ApiClient:
        client = model_class(*args, **kwargs)
        client.token = client.issue_token()  # type: ignore[attr-defined]
        client.save()
        return client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
