from __future__ import annotations

from django.contrib import admin

from apps.payments.models import Payment
from lib.admin import IndexedSearchAdmin


@admin.register(Payment)
class PaymentAdmin(IndexedSearchAdmin):
    list_display = ("id", "student", "course", "amount", "currency", "status", "provider", "created_at")
    list_filter = ("status", "currency", "provider", "created_at")
    list_select_related = ("student", "course")
    search_fields = ("student__email",)
    search_email_path = "student__email"
    search_keys = ("provider_payment_id", "idempotency_key")
    search_help_text = "Id, student email, provider payment id or idempotency key."
    autocomplete_fields = ("student", "course")
    readonly_fields = ("created_at", "updated_at")
    show_full_result_count = False
