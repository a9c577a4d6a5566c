"""Small builders for the tracking tests, on top of tests.factories (through the services)."""
from __future__ import annotations

from pizzadelivery import services
from pizzadelivery.models import Driver, Order
from pizzadelivery.tokens import tracking_token_for
from tests import factories

# The restaurant sits at factories.CITY; the customer about 1.3 km north-east of it.
SHOP = factories.CITY
HOME = (factories.CITY[0] + 0.01, factories.CITY[1] + 0.01)


def advance(order: Order, *steps: str, driver: Driver | None = None) -> Order:
    for step in steps:
        if step == "delivered":
            factories.deliver(order.id)  # with the customer's PIN, as a driver does
            continue
        services.order_transition(order_id=order.id, to=step,
                                  driver_id=driver.id if step == "dispatched" and driver else None)
    return Order.objects.get(pk=order.id)


def ready_then_dispatched(driver: Driver | None = None) -> tuple[Order, Driver]:
    """Kitchen done first, then a driver: the driver's position is what drives the ETA."""
    driver = driver or factories.driver()
    order = advance(factories.order(lat=HOME[0], lng=HOME[1]), "confirmed", "preparing", "ready",
                    "dispatched", driver=driver)
    return order, driver


def move(driver: Driver, lat: float, lng: float) -> None:
    """A position report, published: telemetry is answered at commit and published by the
    process's publisher thread, which the tests wait for."""
    services.driver_location_update(driver_id=driver.id, lat=lat, lng=lng)
    factories.published()


def between(a: tuple[float, float], b: tuple[float, float], fraction: float) -> tuple[float, float]:
    return a[0] + (b[0] - a[0]) * fraction, a[1] + (b[1] - a[1]) * fraction


def token(order: Order) -> str:
    return tracking_token_for(order.id)


def delivery_state(order_id):
    """The delivery state, read the way the delivery API reads it (mirror first)."""
    from django.utils import timezone

    from pizzadelivery.mirror.readers import order_and_driver_documents_get
    from tracking.selectors import build_state

    order_doc, driver_doc, source = order_and_driver_documents_get(order_id)
    assert order_doc is not None, f"no order {order_id}"
    return build_state(order_doc, driver_doc, source=source, now=timezone.now())
