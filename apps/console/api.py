"""The console's JSON twins, on the one API (/api/ops/…, tag "console"): each calls the selector its page calls.

Reads only, for staff sessions holding console.view_console (superusers and the
"operators" group do); API tokens do not open them. The pages' actions (cancel a
query, control workers, replay or discard dead letters) stay CSRF-protected
console forms, not API operations (docs/console.md, "JSON twins").
"""

from __future__ import annotations

from typing import Annotated, Any

from django.conf import settings
from django.db import OperationalError
from django.http import HttpRequest
from ninja import Path, Query, Router

from apps.console import database, deadletters, realtime, selectors, workers
from apps.console.access import VIEW_PERMISSION
from apps.console.drills import drills_reading
from apps.console.schemas import (
    DEFAULT_RANGE,
    AlertsPageOut,
    AuditPageOut,
    DatabasePageOut,
    DeadLetterFilters,
    DeadLettersPageOut,
    DrillsPageOut,
    OverviewPageOut,
    OverviewRange,
    PaymentSearchOut,
    PaymentSearchParams,
    PaymentTimelineOut,
    RealtimePageOut,
    ReplayJobPageOut,
    WorkersPageOut,
)
from apps.console.timeline import payment_search_page
from apps.timeline.selectors import payment_timeline
from apps.web.api import ApiError, StaffSession, documented
from lib.db import BIGINT_MAX

router = Router(auth=StaffSession(permission=VIEW_PERMISSION, sole=True), tags=["console"])

_SESSION = {
    401: "No staff session (`unauthenticated`): sign in at /admin/login/; API tokens do not open the console",
    403: f"The user is not staff, or lacks {VIEW_PERMISSION} (`permission_denied`, `error.permission`); "
    "the operators group and superusers have it",
}
Id = Annotated[int, Path(ge=1, le=BIGINT_MAX, description="Out of range: 404")]


def twin(*, ok: type, errors: dict[int, str] | None = None) -> dict[str, Any]:
    """The operation arguments every twin shares: session auth's refusals, and its own."""
    return documented(ok={200: ok}, errors={**_SESSION, **(errors or {})})


@router.get("/overview", operation_id="console_overview", url_name="console-overview",
            summary="The overview: tiles, health, alerts, processes and the sparklines over a range",
            **twin(ok=OverviewPageOut))  # fmt: skip
def overview(request: HttpRequest, range: Annotated[OverviewRange, Query()] = DEFAULT_RANGE) -> dict[str, Any]:
    return selectors.overview_page(range_=range.value)


@router.get("/alerts", operation_id="console_alerts", url_name="console-alerts",
            summary="Alert history, newest first", **twin(ok=AlertsPageOut))  # fmt: skip
def alerts(request: HttpRequest) -> dict[str, Any]:
    return selectors.alerts_page()


@router.get("/audit", operation_id="console_audit", url_name="console-audit",
            summary="The audit trail: the latest operator actions", **twin(ok=AuditPageOut))  # fmt: skip
def audit(request: HttpRequest) -> dict[str, Any]:
    return selectors.audit_page()


@router.get("/database", operation_id="console_database", url_name="console-database",
            summary="Pools, connection budget, activity, locks, indexes, tables and top statements",
            **twin(ok=DatabasePageOut))  # fmt: skip
def database_twin(request: HttpRequest) -> dict[str, Any]:
    return database.database_page()


@router.get("/workers", operation_id="console_workers", url_name="console-workers",
            summary="Workers, beat, queues and tasks", **twin(ok=WorkersPageOut))  # fmt: skip
def workers_twin(request: HttpRequest) -> dict[str, Any]:
    return workers.workers_page()


@router.get("/dead-letters", operation_id="console_dead_letters", url_name="console-dead-letters",
            summary="Dead letters matching the filters: groups, letters, replay jobs, growth",
            **twin(ok=DeadLettersPageOut))  # fmt: skip
def dead_letters(request: HttpRequest, filters: Query[DeadLetterFilters]) -> dict[str, Any]:
    try:
        query = deadletters.page_query(filters.as_params())
    except deadletters.BadFilter as exc:  # the schema admits only what page_query accepts; kept for safety
        raise ApiError(str(exc), code="validation_failed", fields={exc.field: [str(exc)]}) from exc
    return deadletters.deadletters_page(query=query)


@router.get("/dead-letters/jobs/{int:job_id}", operation_id="console_dead_letter_job",
            url_name="console-dead-letter-job", summary="A replay job's progress",
            **twin(ok=ReplayJobPageOut, errors={404: "No such replay job (`not_found`)"}))  # fmt: skip
def dead_letter_job(request: HttpRequest, job_id: Id) -> dict[str, Any]:
    data = deadletters.replay_job_page(job_id=job_id)
    if data is None:
        raise ApiError(f"No replay job {job_id}.", status=404, code="not_found")
    return data


@router.get("/realtime", operation_id="console_realtime", url_name="console-realtime",
            summary="WebSockets: per-instance connections, refusals, draining, top users",
            **twin(ok=RealtimePageOut))  # fmt: skip
def realtime_twin(request: HttpRequest) -> dict[str, Any]:
    return realtime.realtime_page()


@router.get("/drills", operation_id="console_drills", url_name="console-drills",
            summary="The fault drills, which run now, and what the console shows",
            **twin(ok=DrillsPageOut, errors={404: "Fault drills are off (OPS_FAULT_DRILLS) (`not_found`)"}))  # fmt: skip
def drills(request: HttpRequest) -> dict[str, Any]:
    if not settings.OPS_FAULT_DRILLS:
        raise ApiError("Fault drills are off (OPS_FAULT_DRILLS).", status=404, code="not_found")
    return drills_reading()


_TIMELINE_TIMEOUT = "The timeline's read outlasted TIMELINE_SQL_TIMEOUT (`timeline_timeout`); try again"


@router.get("/payments", operation_id="console_payment_search", url_name="console-payments",
            summary="Find payments by id, provider id, Idempotency-Key or correlation id",
            **twin(ok=PaymentSearchOut, errors={503: _TIMELINE_TIMEOUT}))  # fmt: skip
def payment_search(request: HttpRequest, params: Query[PaymentSearchParams]) -> dict[str, Any]:
    try:
        return payment_search_page(query=params.q)
    except ValueError as exc:
        raise ApiError(str(exc), code="validation_failed", fields={"q": [str(exc)]}) from exc
    except OperationalError as exc:
        raise _timed_out() from exc


@router.get("/payments/{int:payment_id}", operation_id="console_payment_timeline", url_name="console-payment",
            summary="A payment's timeline: what it caused and every event, in time order",
            **twin(ok=PaymentTimelineOut, errors={404: "No such payment (`not_found`)", 503: _TIMELINE_TIMEOUT}))  # fmt: skip
def payment(request: HttpRequest, payment_id: Id) -> dict[str, Any]:
    try:
        timeline = payment_timeline(payment_id=payment_id)
    except OperationalError as exc:
        raise _timed_out() from exc
    if timeline is None:
        raise ApiError(f"No payment {payment_id}.", status=404, code="not_found")
    return {"timeline": timeline}


def _timed_out() -> ApiError:
    return ApiError(
        "The timeline's read took too long; try again.",
        status=503,
        code="timeline_timeout",
        headers={"Retry-After": "1"},
    )
