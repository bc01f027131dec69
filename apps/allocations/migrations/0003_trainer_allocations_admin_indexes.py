# The admin's lists at scale (docs/architecture.md): added to tables that already hold data, so built
# CONCURRENTLY while writes continue, hence a non-atomic migration.

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models

class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ('allocations', '0002_trainer_allocations_is_demo'),
    ]

    operations = [
        # The admin's newest-first list: ORDER BY created_at DESC, id DESC LIMIT n.
        AddIndexConcurrently(
            model_name='trainerallocation',
            index=models.Index(models.OrderBy(models.F('created_at'), descending=True), models.OrderBy(models.F('id'), descending=True), name='trainer_allocations_created_idx'),
        ),
        # The admin's status filter, newest first: WHERE status = %s ORDER BY created_at DESC, id DESC.
        AddIndexConcurrently(
            model_name='trainerallocation',
            index=models.Index(models.F('status'), models.OrderBy(models.F('created_at'), descending=True), models.OrderBy(models.F('id'), descending=True), name='trainer_allocations_status_created_idx'),
        ),
    ]
