"""/metrics: the cluster in Prometheus' text format, for a metrics:read token or a staff session allowed to see it."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry

from apps.apiclients.models import ApiScope
from apps.telemetry.prometheus import SnapshotCollector
from apps.web.api import outside_api_auth

_REGISTRY = CollectorRegistry(auto_describe=False)
_REGISTRY.register(SnapshotCollector())


@never_cache
@outside_api_auth(ApiScope.METRICS_READ)
def metrics_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse(generate_latest(_REGISTRY), content_type=CONTENT_TYPE_LATEST)
