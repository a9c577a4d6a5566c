"""A known dataset for the system state, built through the services on a controlled clock."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from events.publisher import rebuild_projections
from pizzadelivery import services
from pizzadelivery.models import Driver, Order
from tests import factories
from tests.clock import Clock

BERLIN = ZoneInfo("Europe/Berlin")


@dataclass
class Dataset:
    now: datetime
    orders: dict[str, Order] = field(default_factory=dict)
    drivers: dict[str, Driver] = field(default_factory=dict)
    durations: list[float] = field(default_factory=list)  # placed -> delivered, today, seconds


def _deliver(clock: Clock, order: Order, driver: Driver, *, early_or_late_s: float) -> Order:
    for step in ("confirmed", "preparing", "ready"):
        clock.advance(minutes=1)
        services.order_transition(order_id=order.id, to=step)
    clock.advance(minutes=1)
    services.order_transition(order_id=order.id, to="dispatched", driver_id=driver.id)
    clock.advance(minutes=1)
    services.order_transition(order_id=order.id, to="out_for_delivery")
    promised = Order.objects.get(pk=order.id).eta_at_dispatch
    clock.set(promised + timedelta(seconds=early_or_late_s))
    factories.deliver(order.id)
    return Order.objects.get(pk=order.id)


@pytest.fixture
def known_dataset(transactional_db, settings, monkeypatch) -> Dataset:
    """Ten orders, one in every status (three delivered: one yesterday in Berlin, which is
    still "today" in UTC terms, two today: one 3 min late, one 2 min early), six drivers.

    The state is then read at 01:30 Berlin time on 14 March 2025."""
    settings.TIME_ZONE = "Europe/Berlin"
    clock = Clock(datetime(2025, 3, 13, 23, 0, tzinfo=BERLIN))
    monkeypatch.setattr(timezone, "now", clock)
    shop = factories.restaurant()
    drivers = {name: factories.driver(name=f"Driver {name}") for name in ("Y", "A", "B", "C", "D", "spare")}
    drivers["off"] = factories.driver(name="Driver off", status="offline")
    rebuild_projections()  # the mirror is ready, as after a deploy; everything after arrives by publishing
    data = Dataset(now=datetime(2025, 3, 14, 1, 30, tzinfo=BERLIN), drivers=drivers)

    data.orders["Y"] = _deliver(clock, factories.order(restaurant_obj=shop), drivers["Y"], early_or_late_s=0)
    assert timezone.localtime(data.orders["Y"].delivered_at, BERLIN).day == 13

    clock.set(datetime(2025, 3, 14, 0, 5, tzinfo=BERLIN))
    data.orders["A"] = _deliver(clock, factories.order(restaurant_obj=shop), drivers["A"], early_or_late_s=180)
    clock.set(max(clock.now, datetime(2025, 3, 14, 0, 25, tzinfo=BERLIN)))
    data.orders["B"] = _deliver(clock, factories.order(restaurant_obj=shop), drivers["B"], early_or_late_s=-120)
    for order in (data.orders["A"], data.orders["B"]):
        data.durations.append((order.delivered_at - order.placed_at).total_seconds())

    clock.set(datetime(2025, 3, 14, 0, 45, tzinfo=BERLIN))
    for name, status in [("C", "dispatched"), ("D", "out_for_delivery"), ("E", "placed"), ("F", "confirmed"),
                         ("G", "preparing"), ("H", "ready"), ("I", "cancelled")]:
        clock.advance(minutes=2)
        order = factories.order(restaurant_obj=shop)
        for step in factories.PATH_TO[status]:
            services.order_transition(order_id=order.id, to=step,
                                      driver_id=drivers[name].id if step == "dispatched" else None)
        data.orders[name] = Order.objects.get(pk=order.id)
    assert clock.now < data.now
    assert timezone.localtime(data.orders["B"].placed_at, BERLIN) < datetime(2025, 3, 14, 0, 30, tzinfo=BERLIN)
    monkeypatch.undo()  # back to real time for everything after building
    return data
