"""Counts every HTTP answer by status class and its latency in the mergeable histogram (lib/metrics.py).

Memory only (a lock and a few dict updates); the reporter publishes the totals.
Placed just inside the correlation id, so deadline 504s and error pages count too.
"""

from __future__ import annotations

import time

from django.http import HttpRequest, HttpResponse

from apps.web.middleware import HybridMiddleware
from lib import metrics


def request_record(status: int, started: float) -> None:
    metrics.increment("http_requests", status=f"{status // 100}xx")
    metrics.observe_histogram("http_request_ms", (time.perf_counter() - started) * 1000)


class TelemetryMiddleware(HybridMiddleware):
    def sync_call(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        request_record(response.status_code, started)
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = await self.get_response(request)
        request_record(response.status_code, started)
        return response
