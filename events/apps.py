from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "Events"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from events.relay import register_relay_task
        from events.retention import prune_task

        register_relay_task(prune_task)
