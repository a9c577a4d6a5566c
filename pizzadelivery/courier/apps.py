from django.apps import AppConfig


class CourierConfig(AppConfig):
    """The driver's app: a phone page for the shift, the current job and proof of delivery."""

    name = "pizzadelivery.courier"
    label = "courier"
    verbose_name = "Driver app"

    def ready(self) -> None:
        from events.publisher import register_fanout
        from pizzadelivery.courier.fanout import courier_fanout

        register_fanout(courier_fanout)
