from django.apps import AppConfig


class TrackingConfig(AppConfig):
    name = "tracking"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from events.publisher import register_fanout
        from tracking.fanout import tracker_fanout

        register_fanout(tracker_fanout)
