from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    """Signed webhooks from the outbox: endpoints, deliveries, their attempts, the sender."""

    name = "pizzadelivery.webhooks"
    label = "webhooks"
    verbose_name = "Webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from events.retention import register_purger
        from pizzadelivery.webhooks.services import purge_finished_telemetry

        register_purger(purge_finished_telemetry)
