"""Distances and the estimated arrival, from positions, kitchen time and city speed."""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    from pizzadelivery.models import Order

EARTH_RADIUS_M = 6_371_000
ROAD_FACTOR = 1.35  # streets are longer than the straight line
HANDOVER = timedelta(seconds=60)
PARKING = timedelta(seconds=60)
ARRIVING_SECONDS = 75


def haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def road_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    return haversine_m(lat1, lng1, lat2, lng2) * ROAD_FACTOR


def travel_time(meters: float) -> timedelta:
    return timedelta(seconds=meters / (settings.CITY_SPEED_KMH / 3.6))


def is_arriving(driver: tuple[float, float], destination: tuple[float, float]) -> bool:
    """About a minute's drive from the door (the tracker's "Arriving", the customer's e-mail)."""
    return travel_time(road_m(*driver, *destination)).total_seconds() <= ARRIVING_SECONDS


@dataclass(frozen=True)
class Trip:
    """What an estimated arrival depends on: where the pizza comes from and goes to, how long
    the kitchen takes, and how far the order has come. Built from a model or from a mirror
    document alike, so every reader estimates the same way."""

    shop: tuple[float, float]
    destination: tuple[float, float]
    prep_minutes: int
    kitchen_status: str
    delivery_status: str
    placed_at: datetime
    confirmed_at: datetime | None = None
    preparing_at: datetime | None = None
    ready_at: datetime | None = None

    @classmethod
    def of(cls, order: "Order") -> "Trip":
        return cls(shop=(float(order.restaurant.lat), float(order.restaurant.lng)),
                   destination=(float(order.delivery_lat), float(order.delivery_lng)),
                   prep_minutes=order.restaurant.prep_minutes, kitchen_status=order.kitchen_status,
                   delivery_status=order.delivery_status, placed_at=order.placed_at,
                   confirmed_at=order.confirmed_at, preparing_at=order.preparing_at, ready_at=order.ready_at)


def kitchen_ready_at(trip: Trip, now: datetime) -> datetime:
    if trip.kitchen_status == "ready":
        return trip.ready_at or now
    prep = timedelta(minutes=trip.prep_minutes)
    if trip.preparing_at:
        expected = trip.preparing_at + prep
    elif trip.confirmed_at:
        expected = trip.confirmed_at + timedelta(minutes=3) + prep
    else:
        expected = trip.placed_at + timedelta(minutes=5) + prep
    # An oven running late is still at least a minute away.
    return max(expected, now + timedelta(minutes=1))


def estimate_arrival(trip: Trip, *, now: datetime, driver: tuple[float, float] | None) -> datetime:
    (r_lat, r_lng), (d_lat, d_lng) = trip.shop, trip.destination
    driver_lat, driver_lng = driver if driver is not None else trip.shop
    if trip.delivery_status == "out_for_delivery":
        return now + travel_time(road_m(driver_lat, driver_lng, d_lat, d_lng)) + PARKING
    at_shop = now + travel_time(road_m(driver_lat, driver_lng, r_lat, r_lng))
    pickup = max(at_shop, kitchen_ready_at(trip, now)) + HANDOVER
    return pickup + travel_time(road_m(r_lat, r_lng, d_lat, d_lng)) + PARKING
