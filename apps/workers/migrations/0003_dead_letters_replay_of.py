# A dead letter filed by a failed replay names the letter it replays (replay_of). The column is new and
# all NULL, so adding it and its key is quick; the index serves "failed replays of this letter" in the admin.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('deadletters', '0002_dead_letters_open_fingerprint'),
    ]

    operations = [
        migrations.AddField(
            model_name='deadletter',
            name='replay_of',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='failed_replays', to='deadletters.deadletter'),
        ),
    ]
