from __future__ import annotations

from django.urls import path

from apps.console import timeline_views, views

app_name = "console"

urlpatterns = [
    path("ops/", views.overview, name="overview"),
    path("ops/alerts", views.alerts, name="alerts"),
    path("ops/audit", views.audit, name="audit"),
    path("ops/live", views.live, name="live"),
    path("ops/payments", timeline_views.payment_search, name="payments"),
    path("ops/payments/<int:payment_id>", timeline_views.payment, name="payment"),
    # JSON twins under /ops/api/ (they move to the django-ninja API's "console" tag later).
    path("ops/api/overview", views.overview, name="api-overview"),
    path("ops/api/alerts", views.alerts, name="api-alerts"),
    path("ops/api/audit", views.audit, name="api-audit"),
    path("ops/api/payments", timeline_views.payment_search, name="api-payments"),
    path("ops/api/payments/<int:payment_id>", timeline_views.payment, name="api-payment"),
]
