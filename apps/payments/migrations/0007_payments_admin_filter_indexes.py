# The admin's lists at scale (docs/architecture.md): added to tables that already hold data, so built
# CONCURRENTLY while writes continue, hence a non-atomic migration.

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models

class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ('payments', '0006_payments_status_expired'),
    ]

    operations = [
        # The admin's status filter, newest first: WHERE status = %s ORDER BY created_at DESC, id DESC LIMIT n.
        AddIndexConcurrently(
            model_name='payment',
            index=models.Index(models.F('status'), models.OrderBy(models.F('created_at'), descending=True), models.OrderBy(models.F('id'), descending=True), name='payments_status_created_id_idx'),
        ),
        # The admin's currency filter, newest first: WHERE currency = %s ORDER BY created_at DESC, id DESC LIMIT n.
        AddIndexConcurrently(
            model_name='payment',
            index=models.Index(models.F('currency'), models.OrderBy(models.F('created_at'), descending=True), models.OrderBy(models.F('id'), descending=True), name='payments_currency_created_idx'),
        ),
    ]
