"""A view used only by the API authentication tests: it logs, so tests can see who the line names."""

import structlog
from django.http import HttpRequest, JsonResponse
from django.urls import path

from apps.web.api import api_endpoint

logger = structlog.get_logger(__name__)


@api_endpoint(methods=("GET",), scope="payments:read")
def whoami(request: HttpRequest) -> JsonResponse:
    logger.info("whoami_answered")
    client = request.api_client
    return JsonResponse({"client": client.name if client else None, "user": request.user.get_username()})


urlpatterns = [path("whoami", whoami)]
