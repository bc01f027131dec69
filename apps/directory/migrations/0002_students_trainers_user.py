# Students and trainers already hold data (millions of rows): the column is added
# without an index (nullable, so no table rewrite), then its unique index is built
# CONCURRENTLY so writes continue; hence a non-atomic migration.

from django.conf import settings
from django.db import migrations, models

# Serves student/trainer lookups by login (request.user.student) and enforces one person per login.
STUDENTS_INDEX = "students_user_id_key"
TRAINERS_INDEX = "trainers_user_id_key"


def _user_field(related_name: str) -> models.OneToOneField:
    return models.OneToOneField(
        blank=True,
        null=True,
        on_delete=models.deletion.SET_NULL,
        related_name=related_name,
        to=settings.AUTH_USER_MODEL,
    )


def _add_column(table: str, index: str) -> list[migrations.RunSQL]:
    return [
        migrations.RunSQL(
            f'ALTER TABLE "{table}" ADD COLUMN "user_id" integer NULL '
            f'CONSTRAINT "{table}_user_id_fk_auth_user_id" REFERENCES "auth_user" ("id") DEFERRABLE INITIALLY DEFERRED',
            reverse_sql=f'ALTER TABLE "{table}" DROP COLUMN "user_id"',
        ),
        migrations.RunSQL(
            f'CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "{index}" ON "{table}" ("user_id")',
            reverse_sql=f'DROP INDEX CONCURRENTLY IF EXISTS "{index}"',
        ),
    ]


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("directory", "0001_students_trainers_courses"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AddField("student", "user", _user_field("student"))],
            database_operations=_add_column("students", STUDENTS_INDEX),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AddField("trainer", "user", _user_field("trainer"))],
            database_operations=_add_column("trainers", TRAINERS_INDEX),
        ),
    ]
