from __future__ import annotations

from django.urls import path

from apps.console import views

app_name = "console"

urlpatterns = [
    path("ops/", views.overview, name="overview"),
    path("ops/alerts", views.alerts, name="alerts"),
    path("ops/audit", views.audit, name="audit"),
    path("ops/live", views.live, name="live"),
    # JSON twins under /ops/api/ (they move to the django-ninja API's "console" tag later).
    path("ops/api/overview", views.overview, name="api-overview"),
    path("ops/api/alerts", views.alerts, name="api-alerts"),
    path("ops/api/audit", views.audit, name="api-audit"),
]
