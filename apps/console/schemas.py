"""The console's JSON twins as types: their query parameters and the top-level shape of each answer.

Parameters mirror the pages' own parsing (selectors.RANGES, deadletters.page_query,
apps.timeline QUERY_MAX), so what /api/schema admits is what the twin accepts.
Answers: the overview is typed in full (docs/console.md, "JSON twin"); the other
pages type their top-level keys and leave the rows inside as objects, described
in docs/console.md. Every schema allows extra keys and every number may be null
(unknown), so a new field in a reading is never a 500.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

from ninja import Schema
from pydantic import ConfigDict, Field, WithJsonSchema

from apps.console import deadletters, selectors
from apps.timeline.selectors import QUERY_MAX

# An int stays an int and a float a float (pydantic's smart union); null is unknown.
Number = int | float | None
# A metric's history, [[unix seconds, value or null], …] oldest first: documented as such, passed through
# unvalidated (validating every point of 16 sparklines cost ~3.5 ms a request, measured in-process).
Series = Annotated[
    dict[str, list[Any]],
    WithJsonSchema(
        {
            "type": "object",
            "additionalProperties": {
                "type": "array",
                "items": {
                    "type": "array",
                    "prefixItems": [{"type": "number"}, {"anyOf": [{"type": "number"}, {"type": "null"}]}],
                    "minItems": 2,
                    "maxItems": 2,
                },
            },
        }
    ),
]


class Open(Schema):
    model_config = ConfigDict(extra="allow")


# --- Query parameters ---------------------------------------------------------------------

OverviewRange = Enum("OverviewRange", {name: name for name in selectors.RANGES}, type=str)  # type: ignore[misc]  # functional Enum: values from the selector
DEFAULT_RANGE = OverviewRange(selectors.DEFAULT_RANGE)
DeadLetterStatus = Enum("DeadLetterStatus", {name: name for name in deadletters.STATUS_CHOICES}, type=str)  # type: ignore[misc]
DeadLetterSince = Enum("DeadLetterSince", {name: name for name in deadletters.SINCE_CHOICES}, type=str)  # type: ignore[misc]

FilterText = Annotated[
    str,
    Field(
        max_length=deadletters.MAX_TEXT,
        pattern=deadletters.SAFE_TEXT.pattern,
        description=f"Exact match; at most {deadletters.MAX_TEXT} letters, digits or `. : - _ @ /` and spaces",
    ),
]


class DeadLetterFilters(Schema):
    """The dead-letters page's filters, as its query string carries them (deadletters.page_query parses both)."""

    status: DeadLetterStatus = Field(DeadLetterStatus("new"), description="`open` is new and replayed")
    since: DeadLetterSince = Field(DeadLetterSince("all"), description="Last failed within this long")
    task: FilterText = ""
    queue: FilterText = ""
    reason: FilterText = ""
    exception: FilterText = Field("", description="The exception's class, e.g. `builtins.ValueError`")
    q: FilterText = Field("", description="Digits: a payment id (its pipeline's letters); else a correlation id")

    def as_params(self) -> dict[str, str]:
        return {name: value.value if isinstance(value, Enum) else value for name, value in self}


class PaymentSearchParams(Schema):
    q: str = Field(
        "",
        max_length=QUERY_MAX,
        pattern=r"^[^\x00]*$",
        description="A payment id, provider payment id, Idempotency-Key or correlation id (exact); "
        "empty or blank: no search (`results` is null)",
    )


# --- The overview (apps.telemetry.aggregate.cluster_overview_build) -------------------------


class Status(Open):
    level: str = Field(description="`ok`, `degraded` or `down`")
    reasons: list[str]


class Summary(Open):
    http_rps: Number
    http_5xx_rate: Number
    http_p95_ms: Number
    db_pool_in_use: Number
    db_pool_max: Number
    ws_connections: Number
    ws_cap: Number
    queue_depth: Number
    queue_oldest_age_s: Number
    dead_letters_new: Number
    alerts_firing: Number


class Process(Open):
    id: str
    kind: str = Field(description="`web`, `worker`, `beat` or `relay`")
    host: str
    pid: int
    group: str | None = None
    version: str | None = None
    started_at: Any = None
    age_s: Number
    pool: dict[str, Number] | None = None
    http: dict[str, Number] | None = None
    ws: dict[str, Number] | None = None
    tasks: dict[str, Number] | None = None


class Tiles(Open):
    http: dict[str, Number]
    db_pool: dict[str, Any] = Field(description="in_use, max, waiting, wait_ms, timeouts and the connection budget")
    postgres_connections: list[dict[str, Any]] = Field(description="{application_name, state, count}")
    redis: dict[str, Number]
    websockets: dict[str, Any] = Field(description="connections, cap, refused, dropped and per-instance counts")
    queues: list[dict[str, Any]] = Field(description="{name, depth, oldest_age_s}")
    tasks: dict[str, Number]
    dead_letters: dict[str, Number]
    provider: dict[str, Any] = Field(description="calls, errors, p95_ms, breaker_state, last_outcome")
    rate_limiter: dict[str, Number]


class HealthCheck(Open):
    name: str
    state: str = Field(description="`ok`, `degraded` or `down`")
    took_ms: Number = None
    detail: str | None = None


class FiringAlert(Open):
    rule: str
    state: str
    since: str
    summary: str


class Overview(Open):
    """console_overview(): every console page's summary bar, and the overview page's tiles."""

    generated_at: str
    totals_read_at: str | None = Field(
        None, description="When the dead-letter totals and firing alerts were read (refreshed with each sample)"
    )
    totals_age_s: Number = Field(None, description="Seconds between totals_read_at and generated_at")
    status: Status
    summary: Summary
    processes: list[Process]
    tiles: Tiles
    health: list[HealthCheck]
    alerts: list[FiringAlert]
    notes: list[str]


# --- Each page's answer --------------------------------------------------------------------


class OverviewPageOut(Open):
    range: str
    overview: Overview
    series: Series = Field(
        description="Each sparkline's history over `range`: [unix seconds, value or null], oldest first"
    )


class AlertRow(Open):
    rule: str
    state: str = Field(description="`firing` or `resolved`")
    since: Any = None
    resolved_at: Any = None
    summary: str | None = None
    value: Number = None
    threshold: Number = None


class AlertsPageOut(Open):
    overview: Overview
    alerts: list[AlertRow]


class AuditRow(Open):
    id: int
    at: str
    actor: str | None
    action: str
    target: str
    outcome: str
    correlation_id: str | None
    detail: Any = None


class AuditPageOut(Open):
    overview: Overview
    actions: list[AuditRow]


class DatabasePageOut(Open):
    overview: Overview
    long_query_seconds: Number
    pools: list[dict[str, Any]] | None = Field(description="Each live process's pool; null when unknown")
    pool_totals: dict[str, Number]
    budget: dict[str, Any]
    activity: dict[str, Any] = Field(description="server, connections, long queries and locks (docs/console.md)")
    stats: dict[str, Any] = Field(description="indexes, tables, the database and top statements (docs/console.md)")


class WorkersPageOut(Open):
    overview: Overview
    generated_at: Number
    workers: list[dict[str, Any]]
    beat: dict[str, Any] = Field(description="Beat's schedule entries and when each last ran")
    queues: list[dict[str, Any]]
    history: Series = Field(description="Each queue's depth and age over 1 h")
    tasks: list[dict[str, Any]]
    control_timeout_s: Number
    broker: str = Field(description="The Celery broker: redis or amqp (RabbitMQ)")
    oldest_age_known: bool = Field(description="False on RabbitMQ: queues' oldest ages are null, unknown")
    notes: list[str]


class DeadLettersPageOut(Open):
    overview: Overview
    filters: dict[str, str]
    matching: int | None = Field(description="Letters matching the filters, exact up to 10,000; null if unknown")
    matching_capped: bool
    grouped_over: int | None
    groups: list[dict[str, Any]] = Field(description="By task and exception: count, first/last seen, a sample")
    letters: list[dict[str, Any]]
    jobs: list[dict[str, Any]] = Field(description="The latest replay jobs")
    notes: list[str]
    series: Series


class ReplayJobPageOut(Open):
    overview: Overview
    job: dict[str, Any] = Field(
        description="id, status, actor, scope, filters, total, done, replayed, skipped, refused, errors, "
        "last_error, progress (0-1), created_at, started_at, finished_at"
    )


class RealtimePageOut(Open):
    overview: Overview
    generated_at: Number
    limits: dict[str, Number]
    totals: dict[str, Any]
    instances: list[dict[str, Any]]
    draining: list[str]
    top_users: list[dict[str, Any]]
    notes: list[str]


class DrillsPageOut(Open):
    overview: Overview
    drills: list[dict[str, Any]] = Field(
        description="Each drill: name, title, what it does, what the console should show, whether it runs now"
    )


class PaymentFound(Schema):
    payment_id: int
    url: str = Field(description="The payment's timeline page")


class PaymentSearchOut(Schema):
    query: str
    results: list[PaymentFound] | None = Field(description="null before a search")


class PaymentTimelineOut(Schema):
    timeline: dict[str, Any] = Field(
        description="payment, purchases, allocations, sessions (+ sessions_truncated), correlation_ids, "
        "events (+ events_truncated): docs/console.md, the payment timeline"
    )
