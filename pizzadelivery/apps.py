from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "pizzadelivery"
    label = "pizzadelivery"
    verbose_name = "Marketplace"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from pizzadelivery import authentication, mirror

        mirror.register()
        authentication.connect_signals()
