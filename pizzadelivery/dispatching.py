"""Choosing drivers: the candidates a dispatcher picks from, and auto-dispatch's turn.

The moves themselves are services (``services.order_transition``, ``services.auto_dispatch_pass``);
this module only reads, and runs auto-dispatch as a relay task.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings

from pizzadelivery import eta, services
from pizzadelivery.mirror.readers import nearest_available_driver_ids
from pizzadelivery.models import Driver, Order


@dataclass(frozen=True)
class Candidate:
    driver: Driver
    distance_m: int  # by road, estimated (as the ETA estimates it)
    eta_to_restaurant_minutes: float


def dispatch_candidates(order: Order, *, limit: int = 10) -> list[Candidate]:
    """Available drivers with a known position, nearest to the order's pizzeria first."""
    shop = (float(order.restaurant.lat), float(order.restaurant.lng))
    ids = nearest_available_driver_ids(lat=shop[0], lng=shop[1], limit=limit * 2)
    drivers = Driver.objects.filter(pk__in=ids, status=Driver.Status.AVAILABLE, lat__isnull=False)
    found = []
    for driver in drivers:
        metres = eta.road_m(float(driver.lat), float(driver.lng), *shop)
        found.append(Candidate(driver, round(metres), round(eta.travel_time(metres).total_seconds() / 60, 1)))
    return sorted(found, key=lambda c: (c.distance_m, c.driver.id))[:limit]


_last_auto_pass = float("-inf")


def auto_dispatch_task() -> None:
    """A relay task: auto-dispatch's pass, at most every ``AUTO_DISPATCH_EVERY_SECONDS`` (it does
    nothing while auto-dispatch is off)."""
    global _last_auto_pass
    now = time.monotonic()
    if now - _last_auto_pass < settings.AUTO_DISPATCH_EVERY_SECONDS:
        return
    _last_auto_pass = now
    services.auto_dispatch_pass()
