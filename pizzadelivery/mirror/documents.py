"""The documents the mirror holds: the one shape of an order and a driver for every reader.

The mirror stores exactly what ``order_document`` and ``driver_document`` build, and the
database fallback builds them the same way, so a reader cannot tell (but for ``source``) where
a document came from. They are JSON-native TypedDicts, not classes: the delivery endpoint
reads one per request straight from ``json.loads``, with nothing to convert on the hot path.
"""
from __future__ import annotations

import json
from typing import TypedDict

from pizzadelivery.lifecycle import STAGES
from pizzadelivery.models import Driver, Order


class LatLng(TypedDict):
    lat: float
    lng: float


class RestaurantRef(TypedDict):
    id: int
    slug: str
    name: str
    address: str
    prep_minutes: int
    location: LatLng


class ItemLine(TypedDict):
    menu_item: int
    name: str
    size: str
    quantity: int
    unit_price: str
    line_total: str


class Address(TypedDict):
    text: str
    lat: float
    lng: float


class EtaTimes(TypedDict):
    estimated_arrival: str | None
    at_dispatch: str | None


class OrderDocument(TypedDict):
    id: str
    code: str
    status: str
    kitchen_status: str
    delivery_status: str | None
    restaurant: RestaurantRef
    items: list[ItemLine]
    total: str
    currency: str
    delivery_address: Address
    customer_name: str  # first name only
    notes: str
    driver_id: int | None
    timestamps: dict[str, str | None]  # every stage in lifecycle.STAGES -> ISO time reached, or None
    eta: EtaTimes
    cancel_reason: str  # the staff's note: never shown to the customer
    cancel_code: str  # lifecycle.CancelReason: what the customer is told
    delivery_pin: str  # for the customer's eyes only: responses leave it out for everyone else
    created_at: str
    updated_at: str


class Position(TypedDict):
    lat: float
    lng: float
    heading: float | None
    speed_kmh: float | None
    updated_at: str | None
    moved_at: str | None  # the last report that moved the driver


class DriverDocument(TypedDict):
    id: int
    name: str
    vehicle: str
    vehicle_label: str
    status: str
    location: Position | None
    current_order_id: str | None


def _iso(value: object) -> str | None:
    return value.isoformat() if value else None  # type: ignore[attr-defined]


def order_document(order: Order) -> OrderDocument:
    """The order's document (read it with ``selectors.order_queryset()``: one query)."""
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
        "cancel_code": order.cancel_code,
        "delivery_pin": order.delivery_pin,
        "created_at": _iso(order.created_at) or "",
        "updated_at": _iso(order.updated_at) or "",
    }


def driver_document(driver: Driver, active_order: Order | None = None) -> DriverDocument:
    location: Position | None = None
    if driver.lat is not None and driver.lng is not None:
        location = {"lat": float(driver.lat), "lng": float(driver.lng), "heading": driver.heading,
                    "speed_kmh": driver.speed_kmh, "updated_at": _iso(driver.location_updated_at),
                    "moved_at": _iso(driver.moved_at)}
    return {
        "id": driver.id,
        "name": driver.name,
        "vehicle": driver.vehicle,
        "vehicle_label": driver.get_vehicle_display(),
        "status": driver.status,
        "location": location,
        "current_order_id": str(active_order.id) if active_order else None,
    }


def dumps(document: OrderDocument | DriverDocument) -> str:
    return json.dumps(document, separators=(",", ":"))
