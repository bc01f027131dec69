"""An endpoint used only by the API authentication tests: it logs, so tests can see who the line names."""

import structlog
from django.http import HttpRequest
from django.urls import path

from apps.web.api import OpsApi, api_auth

logger = structlog.get_logger(__name__)

api = OpsApi(urls_namespace="tests-whoami")


@api.get("/whoami", auth=api_auth("payments:read"))
def whoami(request: HttpRequest) -> dict[str, object]:
    logger.info("whoami_answered")
    actor = request.auth
    client = actor.principal
    return {"client": client.name if client else None, "user": request.user.get_username()}


urlpatterns = [path("", api.urls)]
