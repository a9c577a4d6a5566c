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
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection
from django.db.models import Model
from django.utils import formats, timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from events.services import BatchBuilder, batch, correlation_scope
from pizzadelivery import eta
from pizzadelivery.infra.errors import DomainError
from pizzadelivery.lifecycle import (
    FINISHED,
    KITCHEN_TRACK,
    NOT_CANCELLABLE,
    ON_THE_ROAD,
    CancelReason,
    OrderStatus,
)
from pizzadelivery.mirror.readers import nearest_available_driver_ids
from pizzadelivery.models import Customer, Driver, FleetSettings, MenuItem, Order, OrderItem, Restaurant

MOVED_METRES = 25  # a report this far from the last one moved the driver (less is standing still)
PIN_TRIES = 5  # wrong PINs before delivery by PIN is locked (a dispatcher can still complete it)
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
                 customer_phone: str, address: str, lat: float, lng: float, notes: str = "",
                 customer_email: str = "", language: str = "") -> Order:
    if not lines:
        raise DomainError("An order needs at least one item.", code="empty_order")
    if any(not 1 <= line.quantity <= MAX_QUANTITY for line in lines):
        raise DomainError(f"Quantities go from 1 to {MAX_QUANTITY}.", code="invalid_quantity")
    lines = merge_lines(lines)
    if len(lines) > MAX_LINES:
        raise DomainError(f"At most {MAX_LINES} different items per order.", code="too_many_items",
                          message=format_lazy(_("At most {limit} different items per order."), limit=MAX_LINES))
    item_count = sum(line.quantity for line in lines)
    if item_count > settings.ORDER_MAX_ITEMS:
        raise DomainError(f"At most {settings.ORDER_MAX_ITEMS} items per order ({item_count} asked); for a "
                          "party, call the pizzeria.", code="order_too_large",
                          message=format_lazy(_("At most {limit} items per order ({count} asked); for a party, call "
                                                "the pizzeria."), limit=settings.ORDER_MAX_ITEMS, count=item_count))
    if any(line.quantity > MAX_QUANTITY for line in lines):
        raise DomainError(f"Quantities go from 1 to {MAX_QUANTITY}.", code="invalid_quantity")
    _check_coordinates(lat, lng)
    with batch() as events:
        restaurant = Restaurant.objects.filter(pk=restaurant_id).first()
        if restaurant is None:
            raise _not_found("restaurant", "restaurant_not_found")
        if not restaurant.is_open:
            raise DomainError(f"{restaurant.name} is closed right now.", code="restaurant_closed",
                              status_code=409,
                              message=format_lazy(_("{name} is closed right now."), name=restaurant.name))
        distance_km = eta.haversine_m(float(restaurant.lat), float(restaurant.lng), lat, lng) / 1000
        if distance_km > MAX_DELIVERY_KM:
            raise DomainError(f"That address is {distance_km:.1f} km away; {restaurant.name} delivers "
                              f"within {MAX_DELIVERY_KM} km.", code="out_of_delivery_area",
                              message=format_lazy(_("That address is {km} km away; {name} delivers within {limit} km."),
                                                  km=formats.number_format(round(distance_km, 1), 1),
                                                  name=restaurant.name, limit=MAX_DELIVERY_KM))
        menu = MenuItem.objects.in_bulk({line.menu_item_id for line in lines})
        for line in lines:
            item = menu.get(line.menu_item_id)
            if item is None or item.restaurant_id != restaurant.id:
                raise DomainError(f"Menu item {line.menu_item_id} is not on {restaurant.name}'s menu.",
                                  code="invalid_menu_item")
            if not item.is_available:
                raise DomainError(f"{item} is sold out.", code="menu_item_unavailable", status_code=409,
                                  message=format_lazy(_("{dish} is sold out."), dish=item))
        total = sum((menu[line.menu_item_id].price * line.quantity for line in lines), Decimal("0"))
        if total > settings.ORDER_MAX_TOTAL:
            raise DomainError(f"An order comes to at most {settings.ORDER_MAX_TOTAL} EUR ({total} asked); for a "
                              "party, call the pizzeria.", code="order_too_large",
                              message=format_lazy(_("An order comes to at most {limit} EUR ({total} asked); for a party, "
                                                    "call the pizzeria."), limit=settings.ORDER_MAX_TOTAL, total=total))
        now = timezone.now()
        customer = Customer.objects.create(name=customer_name, phone=customer_phone, email=customer_email)
        order = Order.objects.create(
            code=_new_code(), restaurant=restaurant, customer=customer, delivery_address=address,
            delivery_lat=Decimal(f"{lat:.6f}"), delivery_lng=Decimal(f"{lng:.6f}"), notes=notes,
            total=total, placed_at=now, language=language[:16],
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


def _available_driver(driver_id: int) -> Driver:
    driver = Driver.objects.select_for_update().filter(pk=driver_id).first()
    if driver is None:
        raise _not_found("driver", "driver_not_found")
    if driver.status != Driver.Status.AVAILABLE:
        raise DomainError(f"{driver.name} is {driver.status}.", code="driver_unavailable", status_code=409)
    return driver


def _reassign(order: Order, driver_id: int | None, events: BatchBuilder, now: datetime, note: str) -> None:
    """Another driver for an order whose driver is still on the way to the shop: the previous one
    is released in the same batch; the PIN and the ETA promised at dispatch stay."""
    if driver_id is None:
        raise DomainError("Choose the driver to give the order to.", code="driver_required")
    if driver_id == order.driver_id:
        raise _refuse(order, "dispatched", "that driver already has it")
    driver = _available_driver(driver_id)
    previous = order.driver
    _release_driver(order, events, "reassigned")
    driver.status = Driver.Status.BUSY
    driver.save(update_fields=["status"])
    order.driver = driver
    events.add("order.reassigned", order_id=order.id, driver_id=driver.id, payload={
        **_stage_payload(order), "previous_driver_id": previous.id if previous else None, "note": note[:255]})
    events.add("driver.assigned", order_id=order.id, driver_id=driver.id, payload={"driver_name": driver.name})
    _update_eta(events, order, now=now, reason="reassigned", force=True)


def _dispatch(order: Order, driver_id: int | None, events: BatchBuilder, now: datetime, *,
              how: str = "", note: str = "", reassign: bool = False) -> None:
    if reassign:
        if order.delivery_status != OrderStatus.DISPATCHED:
            raise _refuse(order, "dispatched", "only an order whose driver has not picked it up yet "
                          "can be reassigned")
        _reassign(order, driver_id, events, now, note)
        return
    if order.delivery_status:
        raise _refuse(order, "dispatched", "a driver is already assigned")
    if order.kitchen_status == OrderStatus.PLACED:
        raise _refuse(order, "dispatched", "the restaurant has not confirmed it yet")
    if driver_id is not None:
        driver = _available_driver(driver_id)
    else:
        driver = _nearest_available_driver(order)
        if driver is None:
            raise DomainError("No driver is available right now.", code="no_driver_available",
                              status_code=409)
    driver.status = Driver.Status.BUSY
    driver.save(update_fields=["status"])
    order.driver = driver
    order.delivery_pin = order.delivery_pin or f"{secrets.randbelow(10_000):04d}"
    order.delivery_status = OrderStatus.DISPATCHED
    order.dispatched_at = now
    _derive_status(order)
    events.add("order.dispatched", order_id=order.id, driver_id=driver.id, payload={
        **_stage_payload(order), "how": how or ("chosen" if driver_id is not None else "nearest"), "note": note[:255]})
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


def _deliver(order: Order, events: BatchBuilder, now: datetime, *, pin: str | None, reason: str) -> None:
    """Handed over: proven by the customer's PIN, or, without it, with a reason (whoever may
    waive the PIN is the policy's to decide). A wrong PIN never gets here: ``_check_pin``."""
    if order.delivery_status != OrderStatus.OUT_FOR_DELIVERY:
        raise _refuse(order, "delivered", "the order is not out for delivery")
    if pin is None and not reason.strip():
        raise DomainError("Ask the customer for their 4-digit PIN (or, for a dispatcher, give a reason).",
                          code="pin_required")
    order.delivery_status = OrderStatus.DELIVERED
    order.delivered_at = now
    _derive_status(order)
    predicted = order.eta_at_dispatch
    events.add("order.delivered", order_id=order.id, driver_id=order.driver_id, payload={
        **_stage_payload(order),
        "delivered_at": now.isoformat(),
        "eta_predicted": predicted.isoformat() if predicted else None,
        "eta_error_seconds": round((now - predicted).total_seconds()) if predicted else None,
        "proof": "pin" if pin is not None else "waived",
        "reason": "" if pin is not None else reason.strip()[:255],
    })
    _release_driver(order, events, "delivered")


def _cancel(order: Order, reason: str, reason_code: str, events: BatchBuilder, now: datetime, *,
            by_customer: bool = False) -> None:
    if order.status in NOT_CANCELLABLE:
        raise _refuse(order, "cancelled", "it is already picked up, delivered or cancelled")
    if by_customer and order.status != OrderStatus.PLACED:
        # Checked under the row lock: a kitchen confirming meanwhile wins.
        raise _refuse(order, "cancelled", f"the kitchen has started on it: to cancel now, call "
                      f"{order.restaurant.name}")
    if reason_code not in CancelReason.values:
        raise DomainError(f"The reason is one of {', '.join(CancelReason.values)}.", code="invalid_reason")
    previous = order.status
    order.cancelled_at = now
    order.cancel_code = reason_code
    order.cancel_reason = reason.strip()[:255] or CancelReason(reason_code).label
    _derive_status(order)
    events.add("order.cancelled", order_id=order.id, payload={
        **_stage_payload(order), "reason": order.cancel_reason, "reason_code": reason_code,
        "previous_status": previous})
    if order.delivery_status == OrderStatus.DISPATCHED:
        _release_driver(order, events, "order cancelled")
        order.delivery_status = ""


def _check_pin(order_id: uuid.UUID | str, pin: str) -> None:
    """A PIN offered for a delivery: returns when it is right; a wrong one is counted (its own
    batch, committed: the count must survive the refusal) and refused, ``pin_locked`` from the
    fifth on."""
    refusal: DomainError | None = None
    with batch() as events:
        order = _lock_order(order_id)
        if order.delivery_status != OrderStatus.OUT_FOR_DELIVERY or not order.delivery_pin:
            return  # the transition itself refuses, with the reason
        if order.pin_attempts >= PIN_TRIES:
            refusal = DomainError(f"{PIN_TRIES} wrong PINs: delivery by PIN is locked. Call dispatch.",
                                  code="pin_locked", status_code=409)
        elif not secrets.compare_digest(pin, order.delivery_pin):
            order.pin_attempts += 1
            order.save(update_fields=["pin_attempts", "updated_at"])
            left = PIN_TRIES - order.pin_attempts
            events.add("delivery.pin_rejected", order_id=order.id, driver_id=order.driver_id,
                       payload={"attempts": order.pin_attempts, "locked": left == 0})
            refusal = DomainError(f"That is not the customer's PIN; {left} tr{'y' if left == 1 else 'ies'} left."
                                  if left else f"{PIN_TRIES} wrong PINs: delivery by PIN is locked. Call dispatch.",
                                  code="invalid_pin" if left else "pin_locked", status_code=400 if left else 409,
                                  tries_left=left)
    if refusal is not None:
        raise refusal


def order_transition(*, order_id: uuid.UUID | str, to: str, driver_id: int | None = None,
                     reason: str = "", pin: str | None = None, reason_code: str = CancelReason.OTHER,
                     how: str = "", reassign: bool = False, by_customer: bool = False) -> Order:
    """Move the order's kitchen or delivery track to ``to`` (one event batch). Delivering takes
    the customer's ``pin``, or, waived, a ``reason``; cancelling takes a ``reason_code``
    (``lifecycle.CancelReason``: the customer is told its message) and the staff's ``reason``.
    ``reassign`` gives an order already dispatched (not yet picked up) to another ``driver_id``;
    without it a second dispatch is refused, so two dispatchers cannot both win. ``how`` and
    ``reason`` explain a dispatch in its event (``auto`` for auto-dispatch). ``by_customer``: the
    customer cancels with their tracking link, which only a ``placed`` order allows."""
    if to not in OrderStatus.values:
        raise DomainError(f"Unknown status {to!r}; one of {', '.join(OrderStatus.values)}.",
                          code="invalid_status")
    if to == OrderStatus.DELIVERED and pin is not None:
        _check_pin(order_id, pin)
    with batch() as events:
        order = _lock_order(order_id)
        if order.status in FINISHED:
            raise _refuse(order, to, f"the order is {order.status}")
        now = timezone.now()
        if to in (OrderStatus.CONFIRMED, OrderStatus.PREPARING, OrderStatus.READY):
            _kitchen_step(order, to, events, now)
        elif to == OrderStatus.DISPATCHED:
            _dispatch(order, driver_id, events, now, how=how, note=reason, reassign=reassign)
        elif to == OrderStatus.OUT_FOR_DELIVERY:
            _pick_up(order, events, now)
        elif to == OrderStatus.DELIVERED:
            _deliver(order, events, now, pin=pin, reason=reason)
        elif to == OrderStatus.CANCELLED:
            _cancel(order, reason, reason_code, events, now, by_customer=by_customer)
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
    return driver_location_report(driver_id=driver_id, lat=lat, lng=lng, heading=heading, speed_kmh=speed_kmh)[0]


def driver_location_report(*, driver_id: int, lat: float, lng: float, heading: float | None = None,
                           speed_kmh: float | None = None) -> tuple[Driver, Order | None]:
    """Record a driver's position: the driver and their active delivery (None when they have
    none), as they are after it. Telemetry: the caller is answered once it is committed; the
    pushes follow from the publisher (``events.handoff``). A move of the ETA by 30 s or more
    is a lifecycle fact in the same batch (``delivery.eta_updated``), answered at commit too."""
    _check_coordinates(lat, lng)
    if heading is not None and not 0 <= heading < 360:
        raise DomainError("Heading is in degrees, 0 to 359.", code="invalid_location")
    if speed_kmh is not None and not 0 <= speed_kmh <= 250:
        raise DomainError("Speed is in km/h, 0 to 250.", code="invalid_location")
    with batch(answer_at_commit=True) as events:
        # The hot path of the write side (every driver, every few seconds): the statements are
        # written out rather than compiled by the ORM on each call.
        driver = next(iter(Driver.objects.raw(_DRIVER_FOR_UPDATE.sql(), [driver_id])), None)
        if driver is None:
            raise _not_found("driver", "driver_not_found")
        now = timezone.now()
        if driver.lat is None or eta.haversine_m(float(driver.lat), float(driver.lng), lat, lng) >= MOVED_METRES:
            driver.moved_at = now
        driver.lat, driver.lng = Decimal(f"{lat:.6f}"), Decimal(f"{lng:.6f}")
        driver.heading, driver.speed_kmh, driver.location_updated_at = heading, speed_kmh, now
        update_columns(driver, ["lat", "lng", "heading", "speed_kmh", "location_updated_at", "moved_at"])
        order = None
        if driver.status == Driver.Status.BUSY:  # only a busy driver has a delivery on the road
            order = next(iter(Order.objects.raw(_ORDER_ON_THE_ROAD_FOR_UPDATE.sql(), [driver.id, *ON_THE_ROAD])),
                         None)
        if order is not None:
            order.driver = driver  # the row just written, not read again
            order.restaurant = restaurant_of(order.restaurant_id)
        events.add("driver.location_updated", driver_id=driver.id, order_id=order.id if order else None,
                   payload={"lat": float(driver.lat), "lng": float(driver.lng), "heading": heading,
                            "speed_kmh": speed_kmh, "reported_at": now.isoformat()})
        if order is not None:
            previous = order.eta_at
            _update_eta(events, order, now=now, reason="driver moved")
            if order.eta_at != previous:
                order.updated_at = now
                update_columns(order, ["eta_at", "updated_at"])
    return driver, order


class _Statement:
    """SQL written once per process (table and column names from the models)."""

    def __init__(self, build: Callable[[], str]) -> None:
        self._build, self._sql = build, None

    def sql(self) -> str:
        if self._sql is None:
            self._sql = self._build()
        return self._sql


def _for_update() -> str:
    return " FOR UPDATE" if connection.features.has_select_for_update else ""


_DRIVER_FOR_UPDATE = _Statement(lambda: (
    f"SELECT * FROM {connection.ops.quote_name(Driver._meta.db_table)} WHERE id = %s{_for_update()}"))
_ORDER_ON_THE_ROAD_FOR_UPDATE = _Statement(lambda: (
    f"SELECT * FROM {connection.ops.quote_name(Order._meta.db_table)} WHERE driver_id = %s "
    f"AND delivery_status IN ({', '.join(['%s'] * len(ON_THE_ROAD))}) LIMIT 1{_for_update()}"))


_RESTAURANT = _Statement(lambda: f"SELECT * FROM {connection.ops.quote_name(Restaurant._meta.db_table)} WHERE id = %s")


def restaurant_of(restaurant_id: int) -> Restaurant:
    return next(iter(Restaurant.objects.raw(_RESTAURANT.sql(), [restaurant_id])))


def update_columns(instance: Model, names: list[str]) -> None:
    """``instance.save(update_fields=names)`` as one plain UPDATE (no signals: nothing listens to
    these models' saves), each value prepared by its field."""
    meta = instance._meta
    fields = [meta.get_field(name) for name in names]
    assignments = ", ".join(f"{connection.ops.quote_name(f.column)} = %s" for f in fields)
    params = [f.get_db_prep_save(getattr(instance, f.attname), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {connection.ops.quote_name(meta.db_table)} SET {assignments} "
                       f"WHERE {connection.ops.quote_name(meta.pk.column)} = %s",
                       [*params, meta.pk.get_db_prep_value(instance.pk, connection)])


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


def restaurant_set_open(*, restaurant_id: int, is_open: bool) -> Restaurant:
    """Open or close a pizzeria for new orders (the storefront and checkout follow at once)."""
    with batch() as events:
        restaurant = Restaurant.objects.select_for_update().filter(pk=restaurant_id).first()
        if restaurant is None:
            raise _not_found("restaurant", "restaurant_not_found")
        if restaurant.is_open == is_open:
            return restaurant
        restaurant.is_open = is_open
        restaurant.save(update_fields=["is_open"])
        events.add("restaurant.opened" if is_open else "restaurant.closed",
                   payload={"restaurant_id": restaurant.id, "name": restaurant.name})
    return restaurant


def menu_item_set_available(*, menu_item_id: int, available: bool) -> MenuItem:
    """Mark a dish sold out, or back (carts drop it, checkout refuses it, at once)."""
    with batch() as events:
        item = MenuItem.objects.select_for_update().select_related("restaurant").filter(pk=menu_item_id).first()
        if item is None:
            raise _not_found("menu item", "menu_item_not_found")
        if item.is_available == available:
            return item
        item.is_available = available
        item.save(update_fields=["is_available"])
        events.add("menu_item.available" if available else "menu_item.sold_out",
                   payload={"restaurant_id": item.restaurant_id, "menu_item_id": item.id, "name": str(item)})
    return item



def auto_dispatch_set(*, enabled: bool, user: Any) -> FleetSettings:
    """Switch auto-dispatch on or off (a dispatcher's setting, one event)."""
    with batch() as events:
        fleet = FleetSettings.objects.select_for_update().first() or FleetSettings.objects.create()
        if fleet.auto_dispatch == enabled:
            return fleet
        fleet.auto_dispatch, fleet.changed_by, fleet.changed_at = enabled, user, timezone.now()
        fleet.save()
        events.add("fleet.auto_dispatch_changed", payload={"enabled": enabled, "by": user.get_username()})
    return fleet


# Auto-dispatch sends a driver this much before the pizza should be out of the oven, on top of
# the ride to the shop: they arrive as it is boxed, not to wait at the counter.
AUTO_DISPATCH_LEAD = timedelta(minutes=1)
# Auto-dispatch's batches carry correlation ids of their own ("auto-..."): the system, not a person.
AUTO_DISPATCH_CORRELATION_PREFIX = "auto-"


def auto_dispatch_due(*, now: datetime) -> list[tuple[Order, Driver, str]]:
    """Orders auto-dispatch would give a driver now: each with its nearest free driver and why.
    Ready orders, and orders whose pizza will be out of the oven by the time the nearest free
    driver can reach the shop."""
    waiting = (Order.objects.select_related("restaurant").filter(
        kitchen_status__in=[OrderStatus.CONFIRMED, OrderStatus.PREPARING, OrderStatus.READY],
        delivery_status="", cancelled_at__isnull=True).order_by("placed_at"))
    due, taken = [], set()
    for order in waiting:
        shop = (float(order.restaurant.lat), float(order.restaurant.lng))
        nearest = next((pk for pk in nearest_available_driver_ids(lat=shop[0], lng=shop[1]) if pk not in taken), None)
        driver = Driver.objects.filter(pk=nearest, status=Driver.Status.AVAILABLE).first() if nearest else None
        if driver is None or driver.lat is None:
            continue
        ride = eta.travel_time(eta.road_m(float(driver.lat), float(driver.lng), *shop))
        ready_at = eta.kitchen_ready_at(eta.Trip.of(order), now)
        if order.kitchen_status != OrderStatus.READY and ready_at - now > ride + AUTO_DISPATCH_LEAD:
            continue
        pizza = "is ready" if order.kitchen_status == OrderStatus.READY else \
            f"is ready in about {max(1, round((ready_at - now).total_seconds() / 60))} min"
        why = (f"auto-dispatch: {driver.name} was the nearest free driver, about "
               f"{max(1, round(ride.total_seconds() / 60))} min from {order.restaurant.name}; the pizza {pizza}")
        due.append((order, driver, why))
        taken.add(driver.id)
    return due


def auto_dispatch_pass(*, now: datetime | None = None) -> list[Order]:
    """Give each due order its driver, while auto-dispatch is on (a relay task). A dispatcher or
    another relay may have acted meanwhile: a refusal skips that order."""
    fleet = FleetSettings.objects.first()
    if fleet is None or not fleet.auto_dispatch:
        return []
    dispatched = []
    for order, driver, why in auto_dispatch_due(now=now or timezone.now()):
        try:
            with correlation_scope(f"{AUTO_DISPATCH_CORRELATION_PREFIX}{uuid.uuid4().hex}"):
                dispatched.append(order_transition(order_id=order.id, to=OrderStatus.DISPATCHED,
                                                   driver_id=driver.id, reason=why, how="auto"))
        except DomainError:
            continue
    return dispatched
