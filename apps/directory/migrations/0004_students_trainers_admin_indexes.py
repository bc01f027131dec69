# The admin's lists at scale (docs/architecture.md): added to tables that already hold data, so built
# CONCURRENTLY while writes continue, hence a non-atomic migration. The prefix indexes are written in SQL:
# Django 5.2 wraps OpClass(Upper(...)) in a second pair of parentheses, which PostgreSQL rejects.

import django.contrib.postgres.indexes
import django.db.models.functions.text
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


def prefix_index(model_name, table, column, name):
    """UPPER(column) text_pattern_ops: serves UPPER(column) LIKE 'PREFIX%' under any collation."""
    return migrations.SeparateDatabaseAndState(
        database_operations=[
            migrations.RunSQL(
                f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{name}" ON "{table}" (UPPER("{column}") text_pattern_ops)',
                reverse_sql=f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"',
            )
        ],
        state_operations=[
            migrations.AddIndex(
                model_name=model_name,
                index=models.Index(
                    django.contrib.postgres.indexes.OpClass(
                        django.db.models.functions.text.Upper(column), name="text_pattern_ops"
                    ),
                    name=name,
                ),
            )
        ],
    )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("directory", "0003_students_trainers_courses_is_demo"),
    ]

    operations = [
        # The admin's list by name: ORDER BY full_name, id LIMIT n.
        AddIndexConcurrently(
            model_name="student",
            index=models.Index(fields=["full_name", "id"], name="students_full_name_id_idx"),
        ),
        # The admin's search by the start of a name or an email: WHERE UPPER(full_name) LIKE 'ADA%' (or email).
        prefix_index("student", "students", "full_name", "students_name_prefix_idx"),
        prefix_index("student", "students", "email", "students_email_prefix_idx"),
        prefix_index("trainer", "trainers", "full_name", "trainers_name_prefix_idx"),
        prefix_index("trainer", "trainers", "email", "trainers_email_prefix_idx"),
    ]
