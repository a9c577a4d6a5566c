from django.apps import AppConfig


class StatedashConfig(AppConfig):
    name = "statedash"
    verbose_name = "System state"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from events.publisher import register_fanout
        from statedash.fanout import dashboard_fanout

        register_fanout(dashboard_fanout)
