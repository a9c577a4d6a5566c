from django.apps import AppConfig


class KitchenConfig(AppConfig):
    """The kitchen screen: a live order queue for a restaurant's staff."""

    name = "pizzadelivery.kitchen"
    label = "kitchen"
    verbose_name = "Kitchen screen"

    def ready(self) -> None:
        from events.publisher import register_fanout
        from pizzadelivery.kitchen.fanout import kitchen_fanout

        register_fanout(kitchen_fanout)
