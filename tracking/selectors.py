"""Delivery state: where an order is on its way to the customer (ETA, progress, driver).

Read from the Redis mirror (the order's and the driver's documents: one round trip and no
query) with the database behind it when Redis is down. The math below works on those two
documents only, so the API, the tracker page and the WebSocket fan-out tell the same story.
"""
from __future__ import annotations

import math
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from events.selectors import event_list
from pizzadelivery import eta
from pizzadelivery.lifecycle import ON_THE_ROAD, STEPS, OrderStatus
from pizzadelivery.mirror.documents import DriverDocument, OrderDocument
from pizzadelivery.mirror.readers import order_and_driver_documents_get, order_document_get
from pizzadelivery.models import Restaurant
from tracking import maps

ORDER_KEYS = ("id", "code", "status", "restaurant", "items", "total", "delivery_address")
# The out-for-delivery step never shows complete before the handover: the last metres take time.
MAX_LEG_FRACTION = 0.95
DEFAULT_PREP_MINUTES = Restaurant._meta.get_field("prep_minutes").get_default()


def _dt(value: str | None) -> datetime | None:
    return parse_datetime(value) if value else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _lat_lng(place: dict[str, Any]) -> tuple[float, float]:
    return float(place["lat"]), float(place["lng"])


def has_delivery(order_doc: OrderDocument) -> bool:
    """A driver was sent at some point (dispatched, out, delivered, or cancelled after dispatch)."""
    return bool(order_doc["timestamps"].get("dispatched"))


def driver_position(order_doc: OrderDocument, driver_doc: DriverDocument | None) -> tuple[float, float] | None:
    """Where the driver is, shared only while this order is on the road: a customer's link must
    not follow the driver on to the next customer."""
    if order_doc["status"] not in ON_THE_ROAD or not driver_doc or not driver_doc.get("location"):
        return None
    return _lat_lng(driver_doc["location"])


def _trip(order_doc: OrderDocument) -> eta.Trip:
    """What the ETA depends on, read from the order's document."""
    place, stamps = order_doc["restaurant"], order_doc["timestamps"]
    return eta.Trip(shop=_lat_lng(place["location"]), destination=_lat_lng(order_doc["delivery_address"]),
                    prep_minutes=place.get("prep_minutes") or DEFAULT_PREP_MINUTES,
                    kitchen_status=order_doc["kitchen_status"], delivery_status=order_doc.get("delivery_status") or "",
                    placed_at=_dt(stamps.get("placed")) or _dt(order_doc["created_at"]),
                    confirmed_at=_dt(stamps.get("confirmed")), preparing_at=_dt(stamps.get("preparing")),
                    ready_at=_dt(stamps.get("ready")))


def estimated_arrival(order_doc: OrderDocument, position: tuple[float, float] | None, *,
                      now: datetime) -> datetime | None:
    """The ETA the services recorded (recomputed on every move), or, before a driver is sent,
    what the kitchen time and the distance suggest. None once there is nothing to wait for."""
    status = order_doc["status"]
    if status == OrderStatus.CANCELLED:
        return None
    recorded = _dt(order_doc["eta"].get("estimated_arrival"))
    if recorded is not None or status == OrderStatus.DELIVERED:
        return recorded
    return eta.estimate_arrival(_trip(order_doc), now=now, driver=position)


def eta_block(order_doc: OrderDocument, arrival: datetime | None, *, now: datetime) -> dict[str, Any]:
    seconds = None if arrival is None else max(0, round((arrival - now).total_seconds()))
    if order_doc["status"] == OrderStatus.DELIVERED:
        seconds = 0
    block: dict[str, Any] = {
        "estimated_arrival": _iso(arrival),
        "minutes_remaining": None if seconds is None else math.ceil(seconds / 60),
        "seconds_remaining": seconds,
        "promised_at_dispatch": order_doc["eta"].get("at_dispatch"),
    }
    if order_doc["status"] == OrderStatus.DELIVERED:
        actual = _dt(order_doc["timestamps"]["delivered"])
        promised = _dt(order_doc["eta"].get("at_dispatch"))
        block["actual_arrival"] = _iso(actual)
        # Positive: later than promised at dispatch (what the dashboard's ETA accuracy uses).
        block["error_seconds"] = round((actual - promised).total_seconds()) if actual and promised else None
    return block


def remaining_distance_m(order_doc: OrderDocument, position: tuple[float, float] | None) -> int | None:
    """Road metres the pizza still has to travel (via the shop while the driver heads there)."""
    status = order_doc["status"]
    if status == OrderStatus.CANCELLED:
        return None
    if status == OrderStatus.DELIVERED:
        return 0
    shop = _lat_lng(order_doc["restaurant"]["location"])
    home = _lat_lng(order_doc["delivery_address"])
    leg = eta.road_m(*shop, *home)
    if status == OrderStatus.OUT_FOR_DELIVERY and position:
        return round(eta.road_m(*position, *home))
    if status == OrderStatus.DISPATCHED and position:
        return round(eta.road_m(*position, *shop) + leg)
    return round(leg)


def progress_block(order_doc: OrderDocument, distance_m: int | None) -> dict[str, Any]:
    stamps = order_doc["timestamps"]
    steps = [{"key": key, "label": OrderStatus(key).label, "reached": bool(stamps.get(key)),
              "reached_at": stamps.get(key)} for key in STEPS]
    status = order_doc["status"]
    if status in STEPS:
        current = STEPS.index(status)
    else:  # cancelled: where it stopped
        current = max((i for i, step in enumerate(steps) if step["reached"]), default=0)
    fraction = 0.0
    if status == OrderStatus.OUT_FOR_DELIVERY and distance_m is not None:
        leg = eta.road_m(*_lat_lng(order_doc["restaurant"]["location"]), *_lat_lng(order_doc["delivery_address"]))
        if leg > 0:
            fraction = min(MAX_LEG_FRACTION, max(0.0, 1 - distance_m / leg))
    percent = round(100 * (current + fraction) / (len(STEPS) - 1))
    return {"steps": steps, "current_step": current, "percent": percent, "distance_remaining_m": distance_m}


def is_arriving(order_doc: OrderDocument, position: tuple[float, float] | None,
                seconds_remaining: int | None) -> bool:
    """About a minute away: judged from the driver's position when known (a late ETA running
    out does not make a stuck driver "arriving"), else from the ETA."""
    if order_doc["status"] != OrderStatus.OUT_FOR_DELIVERY:
        return False
    if position is not None:
        return eta.is_arriving(position, _lat_lng(order_doc["delivery_address"]))
    return seconds_remaining is not None and seconds_remaining <= eta.ARRIVING_SECONDS


def driver_block(order_doc: OrderDocument, driver_doc: DriverDocument | None) -> dict[str, Any] | None:
    if not driver_doc or not has_delivery(order_doc):
        return None
    location = None
    if driver_position(order_doc, driver_doc) is not None:
        shared = driver_doc["location"]
        location = {"lat": shared["lat"], "lng": shared["lng"], "updated_at": shared.get("updated_at")}
    return {"id": driver_doc["id"], "name": driver_doc["name"], "vehicle": driver_doc["vehicle"],
            "location": location}


def build_state(order_doc: OrderDocument, driver_doc: DriverDocument | None, *, source: str,
                now: datetime) -> dict[str, Any]:
    """The delivery state of any order (the API serves it once a driver was sent)."""
    position = driver_position(order_doc, driver_doc)
    arrival = estimated_arrival(order_doc, position, now=now)
    eta_data = eta_block(order_doc, arrival, now=now)
    distance = remaining_distance_m(order_doc, position)
    driver = driver_block(order_doc, driver_doc)
    changes = [_dt(order_doc.get("updated_at"))]
    if driver and driver["location"]:
        changes.append(_dt(driver["location"]["updated_at"]))
    updated_at = max((c for c in changes if c), default=None)
    return {
        "order": {name: order_doc[name] for name in ORDER_KEYS},
        "status": order_doc["status"],
        "driver": driver,
        "eta": eta_data,
        "progress": progress_block(order_doc, distance),
        "arriving": is_arriving(order_doc, position, eta_data["seconds_remaining"]),
        "updated_at": _iso(updated_at),
        "source": source,
    }




class _Paths:
    """This process's recent routes: each order's drawn positions and the last event read, so a
    render reads only the reports that are new since (one or two rows, not up to
    ``TRACKER_ROUTE_POINTS``). Events are numbered in commit order, so reading past the last
    number never skips one; whichever process wrote them, they are read from the database."""

    SIZE = 2000  # orders kept (least recently drawn go first)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._paths: OrderedDict[uuid.UUID, tuple[int, tuple[tuple[float, float], ...]]] = OrderedDict()

    def get(self, order_id: uuid.UUID) -> list[tuple[float, float]]:
        limit = settings.TRACKER_ROUTE_POINTS
        with self._lock:
            cached = self._paths.get(order_id)
        reports = event_list(order_id=order_id, types=["driver.location_updated"],
                             after=cached[0] if cached else None)
        rows = list(reports.order_by("-seq").values_list("seq", "payload")[:limit])
        points = (cached[1] if cached else ()) + tuple((float(p["lat"]), float(p["lng"])) for _, p in reversed(rows))
        points = points[-limit:]
        last = rows[0][0] if rows else (cached[0] if cached else 0)
        with self._lock:
            self._paths[order_id] = (last, points)
            self._paths.move_to_end(order_id)
            while len(self._paths) > self.SIZE:
                self._paths.popitem(last=False)
        return list(points)


_paths = _Paths()


def travelled_path(order_id: uuid.UUID) -> list[tuple[float, float]]:
    """The driver's reported positions while on this order, oldest first (the latest
    ``TRACKER_ROUTE_POINTS``)."""
    return _paths.get(order_id)


@dataclass(frozen=True)
class TrackerSnapshot:
    """Everything the tracker page shows of one order at one moment."""

    order: OrderDocument
    driver: DriverDocument | None  # for the vehicle's label
    state: dict[str, Any]          # build_state(), for every status
    route: maps.RouteMap
    generated_at: datetime

    @property
    def version(self) -> int:
        """Milliseconds of the last change: the browser keeps the newest of two snapshots."""
        updated = _dt(self.state["updated_at"])
        return int(updated.timestamp() * 1000) if updated else 0


def tracker_snapshot(order_id: uuid.UUID) -> TrackerSnapshot | None:
    order_doc, driver_doc, source = order_and_driver_documents_get(order_id)
    if order_doc is None:
        return None
    now = timezone.now()
    state = build_state(order_doc, driver_doc, source=source, now=now)
    route = maps.route_map(
        restaurant=_lat_lng(order_doc["restaurant"]["location"]),
        destination=_lat_lng(order_doc["delivery_address"]),
        driver=driver_position(order_doc, driver_doc),
        travelled=travelled_path(order_id) if has_delivery(order_doc) else [],
        status=order_doc["status"],
    )
    return TrackerSnapshot(order=order_doc, driver=driver_doc if state["driver"] else None, state=state,
                           route=route, generated_at=now)


def order_document(order_id: uuid.UUID) -> OrderDocument | None:
    order_doc, _source = order_document_get(order_id)
    return order_doc
