# One open dead letter per task and arguments: a stored fingerprint, unique among open letters.
# Open duplicates already stored are merged into their newest letter first (counts summed, the
# older ones discarded with an audit row naming the survivor); reversing leaves them merged.

import django.db.models.functions.comparison
import django.db.models.functions.text
from django.db import migrations, models
from django.db.models import Count
from django.utils import timezone

OPEN_STATUSES = ("new", "replayed")


def merge_open_duplicates(apps, schema_editor):
    DeadLetter = apps.get_model("deadletters", "DeadLetter")
    DeadLetterAction = apps.get_model("deadletters", "DeadLetterAction")
    open_letters = DeadLetter.objects.filter(status__in=OPEN_STATUSES)
    duplicated = (
        open_letters.values("fingerprint").annotate(n=Count("id")).filter(n__gt=1).values_list("fingerprint", flat=True)
    )
    now = timezone.now()
    for fingerprint in list(duplicated):
        survivor, *older = open_letters.filter(fingerprint=fingerprint).order_by("-last_failed_at", "-id")
        survivor.failures += sum(letter.failures for letter in older)
        survivor.first_failed_at = min(letter.first_failed_at for letter in [survivor, *older])
        survivor.save(update_fields=["failures", "first_failed_at"])
        DeadLetter.objects.filter(id__in=[letter.id for letter in older]).update(status="discarded", resolved_at=now)
        DeadLetterAction.objects.bulk_create(
            DeadLetterAction(
                dead_letter_id=letter.id,
                dead_letter_ref=letter.id,
                kind="discarded",
                detail={"reason": f"merged into dead letter {survivor.id} (same task and arguments)"},
            )
            for letter in older
        )


class Migration(migrations.Migration):

    dependencies = [
        ('deadletters', '0001_dead_letters_tables'),
    ]

    operations = [
        migrations.AddField(
            model_name='deadletter',
            name='fingerprint',
            field=models.GeneratedField(db_persist=True, expression=django.db.models.functions.text.MD5(django.db.models.functions.text.Concat(models.F('task_name'), models.Value(':'), django.db.models.functions.comparison.Cast(models.F('args'), models.TextField()), models.Value(':'), django.db.models.functions.comparison.Cast(models.F('kwargs'), models.TextField()), output_field=models.TextField())), output_field=models.CharField(max_length=32)),
        ),
        migrations.AlterField(
            model_name='deadletter',
            name='failures',
            field=models.PositiveIntegerField(default=1, verbose_name='count'),
        ),
        migrations.AlterField(
            model_name='deadletter',
            name='last_failed_at',
            field=models.DateTimeField(auto_now_add=True, verbose_name='last seen'),
        ),
        migrations.RunPython(merge_open_duplicates, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name='deadletter',
            constraint=models.UniqueConstraint(condition=models.Q(('status__in', ('new', 'replayed'))), fields=('fingerprint',), name='dead_letters_open_fingerprint_uniq'),
        ),
    ]
