from __future__ import annotations

from decimal import Decimal

from django.db import models

from apps.directory.models import Course, Student


class PaymentStatus(models.TextChoices):
    CREATED = "created", "Created"
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    REFUNDED = "refunded", "Refunded"
    # Reconciliation found no charge at the provider after PAYMENT_EXPIRE_AFTER: nothing was charged, nothing will be.
    EXPIRED = "expired", "Expired (never charged)"


# The payment state machine: where each status may go next.
PAYMENT_TRANSITIONS: dict[str, frozenset[str]] = {
    PaymentStatus.CREATED: frozenset({PaymentStatus.PENDING, PaymentStatus.FAILED, PaymentStatus.EXPIRED}),
    PaymentStatus.PENDING: frozenset({PaymentStatus.SUCCEEDED, PaymentStatus.FAILED, PaymentStatus.EXPIRED}),
    PaymentStatus.SUCCEEDED: frozenset({PaymentStatus.REFUNDED}),
    PaymentStatus.FAILED: frozenset(),
    PaymentStatus.REFUNDED: frozenset(),
    # The provider is the truth about money: a charge it reports after all (a late webhook) is recorded, never refused.
    PaymentStatus.EXPIRED: frozenset({PaymentStatus.SUCCEEDED}),
}


# A payment in flight has not heard back from the provider yet.
IN_FLIGHT_STATUSES = (PaymentStatus.CREATED, PaymentStatus.PENDING)
IN_FLIGHT_CONSTRAINT = "payments_student_course_in_flight_uniq"


class Payment(models.Model):
    Status = PaymentStatus

    # Student lookups are served by payments_student_status_created_idx.
    student = models.ForeignKey(Student, on_delete=models.PROTECT, related_name="payments", db_index=False)
    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="payments")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CREATED)
    provider = models.CharField(max_length=32, default="sandbox")
    # NULL (not "") until the provider answers: the unique constraint must allow many unset values.
    provider_payment_id = models.CharField(max_length=128, null=True, blank=True)  # noqa: DJ001
    idempotency_key = models.CharField(max_length=128)
    metadata = models.JSONField(default=dict, blank=True)
    # Made by seed_demo: the seed reads, extends and allocates only these rows (see apps/demo/services.py).
    is_demo = models.BooleanField(default=False, db_default=False, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "payments"
        ordering = ["-created_at", "-id"]
        constraints = [
            # Webhook lookup: WHERE provider_payment_id = %s (NULL until the provider answers).
            models.UniqueConstraint(fields=["provider_payment_id"], name="payments_provider_payment_id_uniq"),
            # Create-payment retries: WHERE idempotency_key = %s; one payment per key.
            models.UniqueConstraint(fields=["idempotency_key"], name="payments_idempotency_key_uniq"),
            # Never two charges under way for one course: WHERE student_id = %s AND course_id = %s AND status IN
            # ('created', 'pending') (payment_get_in_flight); a second create is refused before it is charged.
            models.UniqueConstraint(
                fields=["student", "course"],
                condition=models.Q(status__in=IN_FLIGHT_STATUSES),
                name=IN_FLIGHT_CONSTRAINT,
            ),
            models.CheckConstraint(condition=models.Q(amount__gt=Decimal("0")), name="payments_amount_positive"),
            models.CheckConstraint(condition=models.Q(currency__regex=r"^[A-Z]{3}$"), name="payments_currency_iso4217"),
            models.CheckConstraint(condition=models.Q(status__in=PaymentStatus.values), name="payments_status_valid"),
        ]
        indexes = [
            # A student's payments by status, newest first: WHERE student_id = %s AND status = %s ORDER BY created_at DESC.
            models.Index(
                "student", "status", models.F("created_at").desc(), name="payments_student_status_created_idx"
            ),
            # Operators' newest-first list (admin changelist): ORDER BY created_at DESC, id DESC LIMIT n.
            models.Index(models.F("created_at").desc(), models.F("id").desc(), name="payments_created_idx"),
            # The admin's status filter, newest first: WHERE status = %s ORDER BY created_at DESC, id DESC LIMIT n.
            models.Index(
                "status", models.F("created_at").desc(), models.F("id").desc(), name="payments_status_created_id_idx"
            ),
            # The admin's currency filter, newest first: WHERE currency = %s ORDER BY created_at DESC, id DESC LIMIT n.
            models.Index(
                "currency", models.F("created_at").desc(), models.F("id").desc(), name="payments_currency_created_idx"
            ),
            # Reconciliation (payment_list_stuck): WHERE status IN ('created', 'pending') AND updated_at < %s
            # ORDER BY updated_at LIMIT n. Partial, so it holds only payments in flight.
            models.Index(
                fields=["updated_at"],
                condition=models.Q(status__in=IN_FLIGHT_STATUSES),
                name="payments_in_flight_updated_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Payment {self.pk} {self.amount} {self.currency} ({self.status})"

    def can_become(self, status: str) -> bool:
        return status in PAYMENT_TRANSITIONS[self.status]
