import uuid

from django.db import migrations, models


def new_identity(apps, schema_editor):
    apps.get_model("events", "Sequence").objects.update(database_id=uuid.uuid4())


class Migration(migrations.Migration):
    dependencies = [("events", "0002_sequence_row")]
    operations = [
        migrations.AddField("sequence", "database_id", models.UUIDField(default=uuid.uuid4)),
        migrations.RunPython(new_identity, migrations.RunPython.noop),
    ]
