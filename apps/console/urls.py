from __future__ import annotations

from django.urls import path

from apps.console import views, views_deadletters, views_realtime

app_name = "console"

urlpatterns = [
    path("ops/", views.overview, name="overview"),
    path("ops/alerts", views.alerts, name="alerts"),
    path("ops/audit", views.audit, name="audit"),
    path("ops/live", views.live, name="live"),
    path("ops/dead-letters", views_deadletters.dead_letters, name="dead-letters"),
    path("ops/dead-letters/dry-run", views_deadletters.dry_run, name="dead-letters-dry-run"),
    path("ops/dead-letters/replay", views_deadletters.replay, name="dead-letters-replay"),
    path("ops/dead-letters/discard", views_deadletters.discard, name="dead-letters-discard"),
    path("ops/dead-letters/jobs/<int:job_id>", views_deadletters.job, name="dead-letter-job"),
    path("ops/dead-letters/jobs/<int:job_id>/cancel", views_deadletters.job_cancel, name="dead-letter-job-cancel"),
    path("ops/realtime", views_realtime.realtime, name="realtime"),
    # JSON twins under /ops/api/ (they move to the django-ninja API's "console" tag later).
    path("ops/api/overview", views.overview, name="api-overview"),
    path("ops/api/alerts", views.alerts, name="api-alerts"),
    path("ops/api/audit", views.audit, name="api-audit"),
    path("ops/api/dead-letters", views_deadletters.dead_letters, name="api-dead-letters"),
    path("ops/api/dead-letters/jobs/<int:job_id>", views_deadletters.job, name="api-dead-letter-job"),
    path("ops/api/realtime", views_realtime.realtime, name="api-realtime"),
]
