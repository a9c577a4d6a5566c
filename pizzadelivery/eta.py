"""Distances and the estimated arrival, from positions, kitchen time and city speed."""
from __future__ import annotations

import math
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


def kitchen_ready_at(order: "Order", now: datetime) -> datetime:
    if order.kitchen_status == "ready":
        return order.ready_at or now
    prep = timedelta(minutes=order.restaurant.prep_minutes)
    if order.preparing_at:
        expected = order.preparing_at + prep
    elif order.confirmed_at:
        expected = order.confirmed_at + timedelta(minutes=3) + prep
    else:
        expected = order.placed_at + timedelta(minutes=5) + prep
    # An oven running late is still at least a minute away.
    return max(expected, now + timedelta(minutes=1))


def estimate_arrival(order: "Order", *, now: datetime, driver_lat: float | None,
                     driver_lng: float | None) -> datetime:
    r_lat, r_lng = float(order.restaurant.lat), float(order.restaurant.lng)
    d_lat, d_lng = float(order.delivery_lat), float(order.delivery_lng)
    if driver_lat is None or driver_lng is None:
        driver_lat, driver_lng = r_lat, r_lng
    if order.delivery_status == "out_for_delivery":
        return now + travel_time(road_m(driver_lat, driver_lng, d_lat, d_lng)) + PARKING
    at_shop = now + travel_time(road_m(driver_lat, driver_lng, r_lat, r_lng))
    pickup = max(at_shop, kitchen_ready_at(order, now)) + HANDOVER
    return pickup + travel_time(road_m(r_lat, r_lng, d_lat, d_lng)) + PARKING
