"""What a driver's phone shows: their shift and their one current job."""
from __future__ import annotations

from typing import Any

from pizzadelivery.lifecycle import ON_THE_ROAD
from pizzadelivery.models import Driver, Order
from pizzadelivery.policy import principal
from pizzadelivery.selectors import order_queryset


def driver_of(user: Any) -> Driver | None:
    driver_id = principal(user).driver_id
    return Driver.objects.filter(pk=driver_id).first() if driver_id is not None else None


def current_job(driver_id: int) -> Order | None:
    """The order the driver is on (at most one: the database allows no second)."""
    return order_queryset().filter(driver_id=driver_id, delivery_status__in=ON_THE_ROAD).first()
