from django.apps import AppConfig


class StatedashConfig(AppConfig):
    name = "statedash"
    verbose_name = "System state"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from events.publisher import register_fanout
        from events.relay import register_relay_task
        from statedash.fanout import dashboard_fanout
        from statedash.warmup import keep_state_warm

        register_fanout(dashboard_fanout)
        register_relay_task(keep_state_warm)
