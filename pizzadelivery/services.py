"""Every write of the marketplace. Each service is one event batch: the batch is the
transaction, so the rows and the events that describe them commit together.

The lifecycle has two tracks that move independently (``pizzadelivery.lifecycle``):
kitchen ``placed -> confirmed -> preparing -> ready`` and delivery ``dispatched ->
out_for_delivery -> delivered``; ``cancelled`` from anywhere before pickup.
"""
from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError
from django.utils import timezone

from events.services import BatchBuilder, batch
from pizzadelivery import eta
from pizzadelivery.infra.errors import DomainError
from pizzadelivery.lifecycle import FINISHED, KITCHEN_TRACK, NOT_CANCELLABLE, ON_THE_ROAD, OrderStatus
from pizzadelivery.mirror.readers import nearest_available_driver_ids
from pizzadelivery.models import Customer, Driver, MenuItem, Order, OrderItem, Restaurant

MAX_LINES = 30
MAX_QUANTITY = 50
MAX_DELIVERY_KM = 15
ETA_EVENT_THRESHOLD = timedelta(seconds=30)
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


class InvalidTransition(DomainError):
    code = "invalid_transition"
    status_code = 409


def _not_found(what: str, code: str) -> DomainError:
    return DomainError(f"No {what} with that id.", code=code, status_code=404)


@dataclass(frozen=True)
class LineInput:
    menu_item_id: int
    quantity: int


def _new_code() -> str:
    while True:
        code = "PZ-" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(6))
        if not Order.objects.filter(code=code).exists():
            return code


def _check_coordinates(lat: float, lng: float) -> None:
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):
        raise DomainError("Latitude must be within ±90 and longitude within ±180.",
                          code="invalid_location")


def merge_lines(lines: list[LineInput]) -> list[LineInput]:
    """One line per menu item, in the order first given: a repeated dish adds up."""
    quantities: dict[int, int] = {}
    for line in lines:
        quantities[line.menu_item_id] = quantities.get(line.menu_item_id, 0) + line.quantity
    return [LineInput(menu_item_id, quantity) for menu_item_id, quantity in quantities.items()]


def order_create(*, restaurant_id: int, lines: list[LineInput], customer_name: str,
                 customer_phone: str, address: str, lat: float, lng: float, notes: str = "") -> Order:
    if not lines:
        raise DomainError("An order needs at least one item.", code="empty_order")
    if any(not 1 <= line.quantity <= MAX_QUANTITY for line in lines):
        raise DomainError(f"Quantities go from 1 to {MAX_QUANTITY}.", code="invalid_quantity")
    lines = merge_lines(lines)
    if len(lines) > MAX_LINES:
        raise DomainError(f"At most {MAX_LINES} different items per order.", code="too_many_items")
    item_count = sum(line.quantity for line in lines)
    if item_count > settings.ORDER_MAX_ITEMS:
        raise DomainError(f"At most {settings.ORDER_MAX_ITEMS} items per order ({item_count} asked); for a "
                          "party, call the pizzeria.", code="order_too_large")
    if any(line.quantity > MAX_QUANTITY for line in lines):
        raise DomainError(f"Quantities go from 1 to {MAX_QUANTITY}.", code="invalid_quantity")
    _check_coordinates(lat, lng)
    with batch() as events:
        restaurant = Restaurant.objects.filter(pk=restaurant_id).first()
        if restaurant is None:
            raise _not_found("restaurant", "restaurant_not_found")
        if not restaurant.is_open:
            raise DomainError(f"{restaurant.name} is closed right now.", code="restaurant_closed",
                              status_code=409)
        distance_km = eta.haversine_m(float(restaurant.lat), float(restaurant.lng), lat, lng) / 1000
        if distance_km > MAX_DELIVERY_KM:
            raise DomainError(f"That address is {distance_km:.1f} km away; {restaurant.name} delivers "
                              f"within {MAX_DELIVERY_KM} km.", code="out_of_delivery_area")
        menu = MenuItem.objects.in_bulk({line.menu_item_id for line in lines})
        for line in lines:
            item = menu.get(line.menu_item_id)
            if item is None or item.restaurant_id != restaurant.id:
                raise DomainError(f"Menu item {line.menu_item_id} is not on {restaurant.name}'s menu.",
                                  code="invalid_menu_item")
            if not item.is_available:
                raise DomainError(f"{item} is sold out.", code="menu_item_unavailable", status_code=409)
        total = sum((menu[line.menu_item_id].price * line.quantity for line in lines), Decimal("0"))
        if total > settings.ORDER_MAX_TOTAL:
            raise DomainError(f"An order comes to at most {settings.ORDER_MAX_TOTAL} EUR ({total} asked); for a "
                              "party, call the pizzeria.", code="order_too_large")
        now = timezone.now()
        customer = Customer.objects.create(name=customer_name, phone=customer_phone)
        order = Order.objects.create(
            code=_new_code(), restaurant=restaurant, customer=customer, delivery_address=address,
            delivery_lat=Decimal(f"{lat:.6f}"), delivery_lng=Decimal(f"{lng:.6f}"), notes=notes,
            total=total, placed_at=now,
        )
        OrderItem.objects.bulk_create([
            OrderItem(order=order, menu_item=menu[line.menu_item_id], name=menu[line.menu_item_id].name,
                      size=menu[line.menu_item_id].size, unit_price=menu[line.menu_item_id].price,
                      quantity=line.quantity)
            for line in lines
        ])
        events.add("order.placed", order_id=order.id, payload={
            "code": order.code, "status": order.status, "kitchen_status": order.kitchen_status,
            "restaurant_id": restaurant.id, "total": str(total),
            "item_count": sum(line.quantity for line in lines),
        })
    return order


def _stage_payload(order: Order) -> dict[str, str]:
    return {"code": order.code, "status": order.status, "kitchen_status": order.kitchen_status}


def _refuse(order: Order, to: str, why: str) -> InvalidTransition:
    return InvalidTransition(f"Order {order.code} cannot go from {order.status} to {to}: {why}",
                             status=order.status, kitchen_status=order.kitchen_status)


def _derive_status(order: Order) -> None:
    if order.cancelled_at:
        order.status = OrderStatus.CANCELLED
    else:
        order.status = order.delivery_status or order.kitchen_status


def _driver_position(driver: Driver | None) -> tuple[float, float] | None:
    if driver is None or driver.lat is None or driver.lng is None:
        return None
    return float(driver.lat), float(driver.lng)


def _update_eta(events: BatchBuilder, order: Order, *, now: datetime, reason: str,
                force: bool = False) -> None:
    """Recompute the ETA; record it (and emit delivery.eta_updated) when it moved by 30 s or
    more, or always when ``force`` (a new delivery)."""
    new = eta.estimate_arrival(eta.Trip.of(order), now=now, driver=_driver_position(order.driver))
    previous = order.eta_at
    if not force and previous is not None and abs(new - previous) < ETA_EVENT_THRESHOLD:
        return
    order.eta_at = new
    events.add("delivery.eta_updated", order_id=order.id, payload={
        "estimated_arrival": new.isoformat(),
        "previous": previous.isoformat() if previous else None,
        "minutes_remaining": round(max(0.0, (new - now).total_seconds() / 60), 1),
        "reason": reason,
    })


def _lock_order(order_id: uuid.UUID | str) -> Order:
    order = (Order.objects.select_for_update(of=("self",)).select_related("restaurant", "driver")
             .filter(pk=order_id).first())
    if order is None:
        raise _not_found("order", "order_not_found")
    return order


def _nearest_available_driver(order: Order) -> Driver | None:
    for driver_id in nearest_available_driver_ids(lat=float(order.restaurant.lat),
                                                  lng=float(order.restaurant.lng)):
        driver = (Driver.objects.select_for_update(skip_locked=True)
                  .filter(pk=driver_id, status=Driver.Status.AVAILABLE).first())
        if driver is not None:
            return driver
    return None


def _kitchen_step(order: Order, to: str, events: BatchBuilder, now: datetime) -> None:
    previous = KITCHEN_TRACK[KITCHEN_TRACK.index(to) - 1]
    if order.kitchen_status != previous:
        raise _refuse(order, to, f"the kitchen is at {order.kitchen_status}, not {previous}")
    order.kitchen_status = to
    setattr(order, f"{to}_at", now)
    _derive_status(order)
    events.add(f"order.{to}", order_id=order.id, payload=_stage_payload(order))
    if order.delivery_status in ON_THE_ROAD:
        _update_eta(events, order, now=now, reason=f"kitchen {to}")


def _dispatch(order: Order, driver_id: int | None, events: BatchBuilder, now: datetime) -> None:
    if order.delivery_status:
        raise _refuse(order, "dispatched", "a driver is already assigned")
    if order.kitchen_status == OrderStatus.PLACED:
        raise _refuse(order, "dispatched", "the restaurant has not confirmed it yet")
    if driver_id is not None:
        driver = Driver.objects.select_for_update().filter(pk=driver_id).first()
        if driver is None:
            raise _not_found("driver", "driver_not_found")
        if driver.status != Driver.Status.AVAILABLE:
            raise DomainError(f"{driver.name} is {driver.status}.", code="driver_unavailable",
                              status_code=409)
    else:
        driver = _nearest_available_driver(order)
        if driver is None:
            raise DomainError("No driver is available right now.", code="no_driver_available",
                              status_code=409)
    driver.status = Driver.Status.BUSY
    driver.save(update_fields=["status"])
    order.driver = driver
    order.delivery_status = OrderStatus.DISPATCHED
    order.dispatched_at = now
    _derive_status(order)
    events.add("order.dispatched", order_id=order.id, driver_id=driver.id, payload=_stage_payload(order))
    events.add("driver.assigned", order_id=order.id, driver_id=driver.id,
               payload={"driver_name": driver.name})
    _update_eta(events, order, now=now, reason="dispatched", force=True)
    order.eta_at_dispatch = order.eta_at


def _pick_up(order: Order, events: BatchBuilder, now: datetime) -> None:
    if order.delivery_status != OrderStatus.DISPATCHED:
        raise _refuse(order, "out_for_delivery", "no driver is on the way to the shop")
    if order.kitchen_status != OrderStatus.READY:
        raise _refuse(order, "out_for_delivery", "the pizza is not ready yet")
    order.delivery_status = OrderStatus.OUT_FOR_DELIVERY
    order.out_for_delivery_at = now
    _derive_status(order)
    events.add("order.out_for_delivery", order_id=order.id, driver_id=order.driver_id,
               payload=_stage_payload(order))
    _update_eta(events, order, now=now, reason="picked up")


def _release_driver(order: Order, events: BatchBuilder, reason: str) -> None:
    driver = Driver.objects.select_for_update().get(pk=order.driver_id)
    driver.status = Driver.Status.AVAILABLE
    driver.save(update_fields=["status"])
    events.add("driver.released", order_id=order.id, driver_id=driver.id, payload={"reason": reason})


def _deliver(order: Order, events: BatchBuilder, now: datetime) -> None:
    if order.delivery_status != OrderStatus.OUT_FOR_DELIVERY:
        raise _refuse(order, "delivered", "the order is not out for delivery")
    order.delivery_status = OrderStatus.DELIVERED
    order.delivered_at = now
    _derive_status(order)
    predicted = order.eta_at_dispatch
    events.add("order.delivered", order_id=order.id, driver_id=order.driver_id, payload={
        **_stage_payload(order),
        "delivered_at": now.isoformat(),
        "eta_predicted": predicted.isoformat() if predicted else None,
        "eta_error_seconds": round((now - predicted).total_seconds()) if predicted else None,
    })
    _release_driver(order, events, "delivered")


def _cancel(order: Order, reason: str, events: BatchBuilder, now: datetime) -> None:
    if order.status in NOT_CANCELLABLE:
        raise _refuse(order, "cancelled", "it is already picked up, delivered or cancelled")
    previous = order.status
    order.cancelled_at = now
    order.cancel_reason = reason[:255]
    _derive_status(order)
    events.add("order.cancelled", order_id=order.id, payload={
        **_stage_payload(order), "reason": order.cancel_reason or "cancelled", "previous_status": previous})
    if order.delivery_status == OrderStatus.DISPATCHED:
        _release_driver(order, events, "order cancelled")
        order.delivery_status = ""


def order_transition(*, order_id: uuid.UUID | str, to: str, driver_id: int | None = None,
                     reason: str = "") -> Order:
    if to not in OrderStatus.values:
        raise DomainError(f"Unknown status {to!r}; one of {', '.join(OrderStatus.values)}.",
                          code="invalid_status")
    with batch() as events:
        order = _lock_order(order_id)
        if order.status in FINISHED:
            raise _refuse(order, to, f"the order is {order.status}")
        now = timezone.now()
        if to in (OrderStatus.CONFIRMED, OrderStatus.PREPARING, OrderStatus.READY):
            _kitchen_step(order, to, events, now)
        elif to == OrderStatus.DISPATCHED:
            _dispatch(order, driver_id, events, now)
        elif to == OrderStatus.OUT_FOR_DELIVERY:
            _pick_up(order, events, now)
        elif to == OrderStatus.DELIVERED:
            _deliver(order, events, now)
        elif to == OrderStatus.CANCELLED:
            _cancel(order, reason, events, now)
        else:
            raise _refuse(order, to, "an order is placed only once")
        try:
            order.save()
        except IntegrityError:
            # The partial unique index caught a driver given two deliveries at once.
            raise DomainError("That driver already has an active delivery.", code="driver_unavailable",
                              status_code=409) from None
    return order


def driver_location_update(*, driver_id: int, lat: float, lng: float, heading: float | None = None,
                           speed_kmh: float | None = None) -> Driver:
    _check_coordinates(lat, lng)
    if heading is not None and not 0 <= heading < 360:
        raise DomainError("Heading is in degrees, 0 to 359.", code="invalid_location")
    if speed_kmh is not None and not 0 <= speed_kmh <= 250:
        raise DomainError("Speed is in km/h, 0 to 250.", code="invalid_location")
    with batch() as events:
        driver = Driver.objects.select_for_update().filter(pk=driver_id).first()
        if driver is None:
            raise _not_found("driver", "driver_not_found")
        now = timezone.now()
        driver.lat, driver.lng = Decimal(f"{lat:.6f}"), Decimal(f"{lng:.6f}")
        driver.heading, driver.speed_kmh, driver.location_updated_at = heading, speed_kmh, now
        driver.save(update_fields=["lat", "lng", "heading", "speed_kmh", "location_updated_at"])
        order = (Order.objects.select_for_update(of=("self",)).select_related("restaurant", "driver")
                 .filter(driver=driver, delivery_status__in=ON_THE_ROAD).first())
        events.add("driver.location_updated", driver_id=driver.id, order_id=order.id if order else None,
                   payload={"lat": float(driver.lat), "lng": float(driver.lng), "heading": heading,
                            "speed_kmh": speed_kmh, "reported_at": now.isoformat()})
        if order is not None:
            previous = order.eta_at
            _update_eta(events, order, now=now, reason="driver moved")
            if order.eta_at != previous:
                order.save(update_fields=["eta_at", "updated_at"])
    return driver


def driver_register(*, name: str, vehicle: str = Driver.Vehicle.SCOOTER, phone: str = "",
                    status: str = Driver.Status.OFFLINE, lat: float | None = None,
                    lng: float | None = None) -> Driver:
    if status not in (Driver.Status.AVAILABLE, Driver.Status.OFFLINE):
        raise DomainError("A new driver starts 'available' or 'offline'.", code="invalid_status")
    if vehicle not in Driver.Vehicle.values:
        raise DomainError(f"Vehicle is one of {', '.join(Driver.Vehicle.values)}.", code="invalid_vehicle")
    if (lat is None) != (lng is None):
        raise DomainError("Give both latitude and longitude, or neither.", code="invalid_location")
    if lat is not None and lng is not None:
        _check_coordinates(lat, lng)
    with batch() as events:
        driver = Driver.objects.create(
            name=name, vehicle=vehicle, phone=phone, status=status,
            lat=Decimal(f"{lat:.6f}") if lat is not None else None,
            lng=Decimal(f"{lng:.6f}") if lng is not None else None,
            location_updated_at=timezone.now() if lat is not None else None,
        )
        events.add("driver.registered", driver_id=driver.id,
                   payload={"name": driver.name, "vehicle": driver.vehicle, "status": driver.status})
    return driver


DRIVER_PROFILE_FIELDS = ("name", "phone", "vehicle", "user")


def driver_update_profile(*, driver_id: int, **changes: object) -> Driver:
    """Edit who a driver is (name, phone, vehicle, login), as an event like any other change:
    the mirror, the dashboard and an open tracker of the driver's order see it at once.
    Status and position are not edited here: they have their own services."""
    unknown = set(changes) - set(DRIVER_PROFILE_FIELDS)
    if unknown:
        raise DomainError(f"Only {', '.join(DRIVER_PROFILE_FIELDS)} can be edited here, not "
                          f"{', '.join(sorted(unknown))}.", code="invalid_field")
    if "vehicle" in changes and changes["vehicle"] not in Driver.Vehicle.values:
        raise DomainError(f"Vehicle is one of {', '.join(Driver.Vehicle.values)}.", code="invalid_vehicle")
    if "name" in changes and not str(changes["name"] or "").strip():
        raise DomainError("A driver needs a name.", code="invalid_name")
    with batch() as events:
        driver = Driver.objects.select_for_update().filter(pk=driver_id).first()
        if driver is None:
            raise _not_found("driver", "driver_not_found")
        changed = [name for name in DRIVER_PROFILE_FIELDS if name in changes and getattr(driver, name) != changes[name]]
        if not changed:
            return driver
        for name in changed:
            setattr(driver, name, changes[name])
        driver.save(update_fields=changed)
        active = Order.objects.filter(driver=driver, delivery_status__in=ON_THE_ROAD).only("id").first()
        events.add("driver.profile_updated", driver_id=driver.id, order_id=active.id if active else None,
                   payload={"changed": changed, "name": driver.name, "vehicle": driver.vehicle})
    return driver


def driver_set_status(*, driver_id: int, status: str) -> Driver:
    if status not in (Driver.Status.AVAILABLE, Driver.Status.OFFLINE):
        raise DomainError("A driver goes 'available' or 'offline'; 'busy' comes with a delivery.",
                          code="invalid_status")
    with batch() as events:
        driver = Driver.objects.select_for_update().filter(pk=driver_id).first()
        if driver is None:
            raise _not_found("driver", "driver_not_found")
        if driver.status == Driver.Status.BUSY:
            raise DomainError(f"{driver.name} is on a delivery.", code="driver_busy", status_code=409)
        if driver.status == status:
            return driver
        previous = driver.status
        driver.status = status
        driver.save(update_fields=["status"])
        events.add("driver.status_changed", driver_id=driver.id,
                   payload={"status": status, "previous_status": previous})
    return driver
