# Added once payments already held production data: built CONCURRENTLY so
# writes continue while the index builds, hence a non-atomic migration.

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("payments", "0001_payments_table"),
    ]

    operations = [
        # Operators' newest-first list (admin changelist): ORDER BY created_at DESC, id DESC LIMIT n.
        AddIndexConcurrently(
            model_name="payment",
            index=models.Index(models.F("created_at").desc(), models.F("id").desc(), name="payments_created_idx"),
        ),
        # Stuck payments for reconciliation and the status filter: WHERE status = %s [AND created_at < %s].
        AddIndexConcurrently(
            model_name="payment",
            index=models.Index(fields=["status", "created_at"], name="payments_status_created_idx"),
        ),
    ]
