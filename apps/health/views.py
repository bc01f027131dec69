"""Liveness and readiness for load balancers.

/health answers from this process alone: no dependency is called.
/ready runs every readiness check, each bounded, and answers 503 naming the
checks that failed.
"""

from __future__ import annotations

import asyncio

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from health_check.views import HealthCheckView

from apps.health.checks import PostgresCheck, RedisCheck


@never_cache
def liveness(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok", "process": settings.PROCESS_KIND})


class ReadinessView(HealthCheckView):
    checks = (PostgresCheck, RedisCheck)

    async def get(self, request: HttpRequest, *args: object, **kwargs: object) -> JsonResponse:
        with self.get_executor() as executor:
            results = await asyncio.gather(*(check.get_result(executor) for check in self.get_checks()))
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
