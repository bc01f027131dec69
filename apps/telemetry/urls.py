from django.urls import path

from apps.telemetry import views

app_name = "telemetry"

urlpatterns = [
    path("metrics", views.metrics_view, name="metrics"),
]
