# The admin's trainer list by name: built CONCURRENTLY while writes continue, hence a non-atomic migration.

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("directory", "0004_students_trainers_admin_indexes"),
    ]

    operations = [
        # The admin's list by name: ORDER BY full_name, id LIMIT n.
        AddIndexConcurrently(
            model_name="trainer",
            index=models.Index(fields=["full_name", "id"], name="trainers_full_name_id_idx"),
        ),
    ]
