from __future__ import annotations

from django.urls import path

from apps.console import (
    database_views,
    deadletters_views,
    drills_views,
    realtime_views,
    timeline_views,
    views,
    workers_views,
)

app_name = "console"

# Pages and their actions; their JSON twins are operations of the API (apps/console/api.py, /api/ops/…).

urlpatterns = [
    path("ops/", views.overview, name="overview"),
    path("ops/alerts", views.alerts, name="alerts"),
    path("ops/audit", views.audit, name="audit"),
    path("ops/live", views.live, name="live"),
    path("ops/database", database_views.database_page, name="database"),
    path(
        "ops/database/backends/<int:pid>/cancel",
        database_views.backend_signal,
        {"how": "cancel"},
        name="database-cancel",
    ),
    path(
        "ops/database/backends/<int:pid>/terminate",
        database_views.backend_signal,
        {"how": "terminate"},
        name="database-terminate",
    ),
    path("ops/workers", workers_views.workers_page, name="workers"),
    path("ops/workers/control", workers_views.worker_control, name="workers-control"),
    path("ops/payments", timeline_views.payment_search, name="payments"),
    path("ops/payments/<int:payment_id>", timeline_views.payment, name="payment"),
    path("ops/dead-letters", deadletters_views.dead_letters, name="dead-letters"),
    path("ops/dead-letters/dry-run", deadletters_views.dry_run, name="dead-letters-dry-run"),
    path("ops/dead-letters/replay", deadletters_views.replay, name="dead-letters-replay"),
    path("ops/dead-letters/discard", deadletters_views.discard, name="dead-letters-discard"),
    path("ops/dead-letters/jobs/<int:job_id>", deadletters_views.job, name="dead-letter-job"),
    path("ops/dead-letters/jobs/<int:job_id>/cancel", deadletters_views.job_cancel, name="dead-letter-job-cancel"),
    path("ops/realtime", realtime_views.realtime, name="realtime"),
    path("ops/drills", drills_views.drills_page, name="drills"),
    path("ops/drills/<slug:name>/run", drills_views.drill_start, name="drills-run"),
]
