from django.urls import path

from apps.payments import api

app_name = "payments"

urlpatterns = [
    path("payments", api.payment_create_view, name="create"),
    path("payments/webhook", api.payment_webhook_view, name="webhook"),
    path("payments/<int:payment_id>", api.payment_detail_view, name="detail"),
    path("payments/<int:payment_id>/status", api.payment_status_view, name="status"),
    path("students/<int:student_id>/payments", api.student_payment_list_view, name="student-list"),
]
