# The admin's lists at scale (docs/architecture.md): added to tables that already hold data, so built
# CONCURRENTLY while writes continue, hence a non-atomic migration.

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models

class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ('tutoring', '0002_tutoring_sessions_is_demo'),
    ]

    operations = [
        # The admin's list in slot order: ORDER BY scheduled_date, scheduled_time, id LIMIT n.
        AddIndexConcurrently(
            model_name='tutoringsession',
            index=models.Index(fields=['scheduled_date', 'scheduled_time', 'id'], name='tutoring_sessions_slot_idx'),
        ),
        # The admin's status filter in slot order: WHERE status = %s ORDER BY scheduled_date, ...
        AddIndexConcurrently(
            model_name='tutoringsession',
            index=models.Index(fields=['status', 'scheduled_date', 'scheduled_time', 'id'], name='tutoring_sessions_status_slot_idx'),
        ),
    ]
