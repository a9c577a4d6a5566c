"""The dispatchers' group: membership is the dispatcher role (pizzadelivery.policy)."""
from django.db import migrations

DISPATCHERS = "dispatchers"


def create_group(apps, schema_editor) -> None:
    apps.get_model("auth", "Group").objects.get_or_create(name=DISPATCHERS)


class Migration(migrations.Migration):
    dependencies = [("pizzadelivery", "0002_restaurant_staff"), ("auth", "0012_alter_user_first_name_max_length")]
    operations = [migrations.RunPython(create_group, migrations.RunPython.noop)]
