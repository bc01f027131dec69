from __future__ import annotations

from django.contrib import admin

from apps.payments.models import Payment


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = ("id", "student", "course", "amount", "currency", "status", "provider", "created_at")
    list_filter = ("status", "currency", "provider", "created_at")
    list_select_related = ("student", "course")
    search_fields = ("=id", "=provider_payment_id", "=idempotency_key", "student__email")
    autocomplete_fields = ("student", "course")
    readonly_fields = ("created_at", "updated_at")
    show_full_result_count = False
    date_hierarchy = "created_at"
