from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    """The customers' e-mails, made from the outbox and sent by the relay."""

    name = "pizzadelivery.notifications"
    label = "notifications"
    verbose_name = "Notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from events.relay import register_relay_task
        from pizzadelivery.notifications.services import notifications_task

        register_relay_task(notifications_task)
