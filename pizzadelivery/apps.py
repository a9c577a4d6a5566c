from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "pizzadelivery"
    label = "pizzadelivery"
    verbose_name = "Marketplace"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from events.relay import register_relay_task
        from pizzadelivery import event_types
        from pizzadelivery.infra import authentication, sqlite
        from pizzadelivery.mirror import writer

        event_types.register_all()
        writer.register()
        authentication.connect_signals()
        register_relay_task(sqlite.checkpoint_wal)
