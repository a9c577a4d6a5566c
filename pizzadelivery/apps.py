from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "pizzadelivery"
    label = "pizzadelivery"
    verbose_name = "Marketplace"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from events.apis import register_feed_scope
        from events.relay import register_relay_task
        from pizzadelivery import dispatching, event_types, policy  # noqa: F401 - policy registers its permissions
        from pizzadelivery.infra import sqlite
        from pizzadelivery.mirror import writer

        event_types.register_all()
        register_feed_scope(lambda request: policy.visible_events(request.user))
        writer.register()
        register_relay_task(sqlite.checkpoint_wal)
        register_relay_task(dispatching.auto_dispatch_task)
