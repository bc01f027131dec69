# A payment that never reached the provider expires (reconciliation, PAYMENT_EXPIRE_AFTER) instead of
# being charged later: the status check gains 'expired'. The new check is added NOT VALID and validated
# in its own transaction, so the payments table is locked for the ALTER alone, not for a full scan.

from django.db import migrations, models

STATUSES = ["created", "pending", "succeeded", "failed", "refunded", "expired"]
CHECK = "CHECK (status IN ({}))".format(", ".join(f"'{status}'" for status in STATUSES))
OLD_CHECK = "CHECK (status IN ('created', 'pending', 'succeeded', 'failed', 'refunded'))"


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("payments", "0005_payments_in_flight_updated_idx"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveConstraint(model_name="payment", name="payments_status_valid"),
                migrations.AlterField(
                    model_name="payment",
                    name="status",
                    field=models.CharField(
                        choices=[
                            ("created", "Created"),
                            ("pending", "Pending"),
                            ("succeeded", "Succeeded"),
                            ("failed", "Failed"),
                            ("refunded", "Refunded"),
                            ("expired", "Expired (never charged)"),
                        ],
                        default="created",
                        max_length=16,
                    ),
                ),
                migrations.AddConstraint(
                    model_name="payment",
                    constraint=models.CheckConstraint(
                        condition=models.Q(status__in=STATUSES), name="payments_status_valid"
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    "ALTER TABLE payments DROP CONSTRAINT payments_status_valid, "
                    f"ADD CONSTRAINT payments_status_valid {CHECK} NOT VALID",
                    reverse_sql="ALTER TABLE payments DROP CONSTRAINT payments_status_valid, "
                    f"ADD CONSTRAINT payments_status_valid {OLD_CHECK} NOT VALID",
                ),
                migrations.RunSQL(
                    "ALTER TABLE payments VALIDATE CONSTRAINT payments_status_valid",
                    reverse_sql="ALTER TABLE payments VALIDATE CONSTRAINT payments_status_valid",
                ),
            ],
        ),
    ]
