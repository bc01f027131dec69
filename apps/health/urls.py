from django.urls import path

from apps.health import views

app_name = "health"

urlpatterns = [
    path("health", views.liveness, name="liveness"),
    path("ready", views.ReadinessView.as_view(), name="readiness"),
    path("ops/instance", views.instance_details, name="instance"),
]
