from django.apps import AppConfig


class StatedashConfig(AppConfig):
    name = "statedash"
    default_auto_field = "django.db.models.BigAutoField"
