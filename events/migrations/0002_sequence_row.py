from django.db import migrations


def create_sequence(apps, schema_editor):
    apps.get_model("events", "Sequence").objects.get_or_create(pk="events")


class Migration(migrations.Migration):
    dependencies = [("events", "0001_initial")]
    operations = [migrations.RunPython(create_sequence, migrations.RunPython.noop)]
