"""Liveness and readiness for load balancers; this instance's details for staff.

/health answers from this process alone, and tells strangers nothing but its
status. /ready runs every readiness check, each bounded, and answers 503 naming
the checks that failed, or at once while the instance drains after SIGTERM.
/ops/instance shows staff which process this is and its realtime counts (the
cluster's are the copy the realtime heartbeat cached: no dependency is called).
"""

from __future__ import annotations

import asyncio

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from health_check.views import HealthCheckView

from apps.health.checks import PostgresCheck, RedisCheck, check_result
from apps.realtime.selectors import realtime_connection_stats
from apps.realtime.state import STATE as REALTIME
from apps.web.errors import error_response


@never_cache
def liveness(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
def instance_details(request: HttpRequest) -> HttpResponse:
    """Host, pid and connected users' ids: staff only (a JSON 403 for anyone else)."""
    if not (request.user.is_authenticated and request.user.is_staff):
        return error_response(request, status=403, code="forbidden", message="Staff only.")
    return JsonResponse({"process": settings.PROCESS_KIND, "realtime": realtime_connection_stats(cluster="cached")})


class ReadinessView(HealthCheckView):
    checks = (PostgresCheck, RedisCheck)

    async def get(self, request: HttpRequest, *args: object, **kwargs: object) -> JsonResponse:
        if REALTIME.draining:
            return JsonResponse({"status": "draining", "failing": ["draining"], "checks": {}}, status=503)
        results = await asyncio.gather(*(check_result(check) for check in self.get_checks()))
        report = {
            result.check.name: {
                "status": "ok" if result.error is None else "unavailable",
                "duration_ms": round(result.time_taken * 1000, 1),
                **({"error": str(result.error)} if result.error is not None else {}),
            }
            for result in results
        }
        failing = sorted(name for name, item in report.items() if item["status"] != "ok")
        body = {"status": "unavailable" if failing else "ok", "failing": failing, "checks": report}
        return JsonResponse(body, status=503 if failing else 200)
