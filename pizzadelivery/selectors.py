"""Reads of the marketplace, and the documents the Redis mirror holds.

``order_document`` and ``driver_document`` are the single shape of an order and a driver
for every reader: the mirror stores exactly them, and the database fallback builds them the
same way, so a reader cannot tell (but for ``source``) where a document came from.
"""
from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import redis
from django.db.models import Prefetch, QuerySet

from events.publisher import mirror_ready, mirror_ready_key
from pizzadelivery import eta
from pizzadelivery.models import Driver, MenuItem, Order, OrderItem, OrderStatus, Restaurant
from pizzadelivery.redis import get_redis, key

logger = logging.getLogger(__name__)

STAGES = ["placed", "confirmed", "preparing", "ready", "dispatched", "out_for_delivery", "delivered",
          "cancelled"]


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


def order_queryset() -> QuerySet[Order]:
    return Order.objects.select_related("restaurant", "driver", "customer").prefetch_related(
        Prefetch("items", queryset=OrderItem.objects.order_by("id")))


def order_document(order: Order) -> dict[str, Any]:
    restaurant = order.restaurant
    return {
        "id": str(order.id),
        "code": order.code,
        "status": order.status,
        "kitchen_status": order.kitchen_status,
        "delivery_status": order.delivery_status or None,
        "restaurant": {"id": restaurant.id, "slug": restaurant.slug, "name": restaurant.name,
                       "address": restaurant.address, "prep_minutes": restaurant.prep_minutes,
                       "location": {"lat": float(restaurant.lat), "lng": float(restaurant.lng)}},
        "items": [{"menu_item": item.menu_item_id, "name": item.name, "size": item.size,
                   "quantity": item.quantity, "unit_price": str(item.unit_price),
                   "line_total": str(item.line_total)} for item in order.items.all()],
        "total": str(order.total),
        "currency": "EUR",
        "delivery_address": {"text": order.delivery_address, "lat": float(order.delivery_lat),
                             "lng": float(order.delivery_lng)},
        "customer_name": order.customer.name.split(" ")[0] if order.customer_id else "",
        "notes": order.notes,
        "driver_id": order.driver_id,
        "timestamps": {stage: _iso(getattr(order, f"{stage}_at")) for stage in STAGES},
        "eta": {"estimated_arrival": _iso(order.eta_at), "at_dispatch": _iso(order.eta_at_dispatch)},
        "cancel_reason": order.cancel_reason,
        "created_at": _iso(order.created_at),
        "updated_at": _iso(order.updated_at),
    }


def driver_document(driver: Driver, active_order: Order | None = None) -> dict[str, Any]:
    location = None
    if driver.lat is not None and driver.lng is not None:
        location = {"lat": float(driver.lat), "lng": float(driver.lng), "heading": driver.heading,
                    "speed_kmh": driver.speed_kmh, "updated_at": _iso(driver.location_updated_at)}
    return {
        "id": driver.id,
        "name": driver.name,
        "vehicle": driver.vehicle,
        "vehicle_label": driver.get_vehicle_display(),
        "status": driver.status,
        "location": location,
        "current_order_id": str(active_order.id) if active_order else None,
    }


def active_order_for(driver: Driver) -> Order | None:
    return Order.objects.filter(driver=driver, delivery_status__in=["dispatched", "out_for_delivery"]).first()


def active_orders_by_driver(driver_ids: list[int]) -> dict[int, Order]:
    orders = Order.objects.filter(driver_id__in=driver_ids,
                                  delivery_status__in=["dispatched", "out_for_delivery"])
    return {order.driver_id: order for order in orders}


# --- mirror reads, with the database behind them --------------------------------------

def order_key(order_id: str) -> str:
    return key("m", "order", order_id)


def driver_key(driver_id: int | str) -> str:
    return key("m", "driver", driver_id)


def mirror_is_ready(client: redis.Redis) -> bool:
    return mirror_ready(client)


def order_document_get(order_id: uuid.UUID) -> tuple[dict[str, Any] | None, str]:
    """The order's document and where it came from (``redis`` or ``database``)."""
    try:
        client = get_redis()
        with client.pipeline(transaction=False) as pipe:
            pipe.exists(mirror_ready_key())
            pipe.hget(order_key(str(order_id)), "doc")
            ready, raw = pipe.execute()
        if ready:
            return (json.loads(raw) if raw else None), "redis"
    except (redis.RedisError, OSError) as exc:
        logger.debug("mirror unavailable, reading the database: %s", exc)
    order = order_queryset().filter(pk=order_id).first()
    return (order_document(order) if order else None), "database"


# The delivery state's read, in one round trip: is the mirror ready, the order's document and,
# when the order names a driver, the driver's. (The driver's key is derived in the script, so
# it needs the one logical Redis the publisher needs anyway, not a cluster.)
_ORDER_AND_DRIVER = """
local ready = redis.call('EXISTS', KEYS[1])
local order = redis.call('HMGET', KEYS[2], 'doc', 'driver_id')
local driver = false
if order[1] and order[2] and order[2] ~= '' then
  driver = redis.call('HGET', ARGV[1] .. order[2], 'doc')
end
return {ready, order[1], driver}
"""
_order_and_driver_script: redis.commands.core.Script | None = None


def order_and_driver_documents_get(
        order_id: uuid.UUID) -> tuple[dict[str, Any] | None, dict[str, Any] | None, str]:
    """The order's document, its driver's (None without one) and where they came from."""
    global _order_and_driver_script
    try:
        client = get_redis()
        if _order_and_driver_script is None:
            _order_and_driver_script = client.register_script(_ORDER_AND_DRIVER)
        # EVALSHA on this client (a Redis that lost the script is sent it again).
        ready, order_raw, driver_raw = _order_and_driver_script(
            keys=[mirror_ready_key(), order_key(str(order_id))], args=[driver_key("")], client=client)
        if ready:
            if not order_raw:
                return None, None, "redis"
            order_doc = json.loads(order_raw)
            if driver_raw or not order_doc.get("driver_id"):
                return order_doc, (json.loads(driver_raw) if driver_raw else None), "redis"
            # The order names a driver the mirror lacks: that one from the database.
            return order_doc, driver_document_get(order_doc["driver_id"], prefer_redis=False), "redis"
    except (redis.RedisError, OSError) as exc:
        logger.debug("mirror unavailable, reading the database: %s", exc)
    order = order_queryset().filter(pk=order_id).first()
    if order is None:
        return None, None, "database"
    driver = order.driver
    driver_doc = driver_document(driver, active_order_for(driver)) if driver else None
    return order_document(order), driver_doc, "database"


def driver_document_get(driver_id: int, *, prefer_redis: bool = True) -> dict[str, Any] | None:
    if prefer_redis:
        try:
            raw = get_redis().hget(driver_key(driver_id), "doc")
            if raw:
                return json.loads(raw)
        except (redis.RedisError, OSError):
            pass
    driver = Driver.objects.filter(pk=driver_id).first()
    return driver_document(driver, active_order_for(driver)) if driver else None


def nearest_available_driver_ids(*, lat: float, lng: float, limit: int = 10) -> list[int]:
    """Nearest available drivers first: Redis GEOSEARCH, or the database when Redis is down."""
    try:
        client = get_redis()
        if mirror_is_ready(client):
            found = client.geosearch(key("m", "drivers", "available"), longitude=lng, latitude=lat,
                                     radius=50, unit="km", sort="ASC", count=limit)
            if found:
                return [int(member) for member in found]
    except (redis.RedisError, OSError) as exc:
        logger.info("GEOSEARCH unavailable, choosing the driver from the database: %s", exc)
    candidates = Driver.objects.filter(status=Driver.Status.AVAILABLE, lat__isnull=False, lng__isnull=False)
    ranked = sorted(candidates, key=lambda d: eta.haversine_m(lat, lng, float(d.lat), float(d.lng)))
    return [driver.id for driver in ranked[:limit]]


def restaurant_list() -> QuerySet[Restaurant]:
    return Restaurant.objects.order_by("name")


def menu_for(restaurant: Restaurant) -> QuerySet[MenuItem]:
    return restaurant.menu_items.order_by("name", "size")


def active_statuses() -> list[str]:
    return [s for s in OrderStatus.values if s not in (OrderStatus.DELIVERED, OrderStatus.CANCELLED)]
