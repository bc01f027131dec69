# Reconciliation asks for payments still in flight and unchanged since a cutoff
# (updated_at: stuck since their last change), which (status, created_at) did not
# serve: the index follows the query. Built CONCURRENTLY before the old
# one is dropped, so writes continue and the query is never left unserved.

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("payments", "0004_payments_student_course_in_flight_uniq"),
    ]

    operations = [
        # Reconciliation (payment_list_stuck): WHERE status IN ('created', 'pending') AND updated_at < %s
        # ORDER BY updated_at LIMIT n. Partial, so it holds only payments in flight.
        AddIndexConcurrently(
            model_name="payment",
            index=models.Index(
                fields=["updated_at"],
                condition=models.Q(status__in=("created", "pending")),
                name="payments_in_flight_updated_idx",
            ),
        ),
        RemoveIndexConcurrently(model_name="payment", name="payments_status_created_idx"),
    ]
