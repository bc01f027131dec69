"""The read-only "operators" group: view the console, and view (never change) the domain models."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "operators"
# App labels whose models operators may view in the admin.
VIEWED_APPS = ("directory", "payments", "purchases", "allocations", "tutoring", "deadletters", "outbox", "telemetry", "console")


def create_operators(apps, schema_editor):
    # Permissions are normally made after every migration (post_migrate); make them now to grant them.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP)
    views = Permission.objects.filter(content_type__app_label__in=VIEWED_APPS, codename__startswith="view_")
    group.permissions.add(*views)


def remove_operators(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("console", "0001_console_operator_actions_table"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("directory", "0003_students_trainers_courses_is_demo"),
        ("payments", "0005_payments_in_flight_updated_idx"),
        ("purchases", "0002_student_course_purchases_is_demo"),
        ("allocations", "0002_trainer_allocations_is_demo"),
        ("tutoring", "0002_tutoring_sessions_is_demo"),
        ("deadletters", "0002_dead_letters_open_fingerprint"),
        ("outbox", "0001_outbox_messages_table"),
        ("telemetry", "0001_telemetry_samples_and_alerts"),
    ]

    operations = [migrations.RunPython(create_operators, remove_operators)]
