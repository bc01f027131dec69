# How the outbox sends a message beyond task and arguments (a replay's task id, header and countdown).
# A constant default: PostgreSQL adds the column without rewriting the table.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('outbox', '0001_outbox_messages_table'),
    ]

    operations = [
        migrations.AddField(
            model_name='outboxmessage',
            name='options',
            field=models.JSONField(blank=True, default=dict),
        ),
    ]
