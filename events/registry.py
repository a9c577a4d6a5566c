"""Every event type the product emits, with its payload, in one place.

A batch validates each event against this registry when it is built, so a payload that
does not match is a programming error caught before anything is stored.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

NUMBER = (int, float)
OPTIONAL_STR = (str, type(None))
OPTIONAL_NUMBER = (int, float, type(None))


class InvalidEvent(ValueError):
    pass


@dataclass(frozen=True)
class EventType:
    name: str
    doc: str
    fields: dict[str, tuple[type, ...]] = field(default_factory=dict)
    needs_order: bool = False
    needs_driver: bool = False

    def validate(self, payload: dict[str, Any], *, order_id: object, driver_id: object) -> None:
        if self.needs_order and order_id is None:
            raise InvalidEvent(f"{self.name} needs an order_id")
        if self.needs_driver and driver_id is None:
            raise InvalidEvent(f"{self.name} needs a driver_id")
        missing = set(self.fields) - set(payload)
        extra = set(payload) - set(self.fields)
        if missing or extra:
            raise InvalidEvent(f"{self.name}: missing {sorted(missing)}, unexpected {sorted(extra)}")
        for name, types in self.fields.items():
            value = payload[name]
            if isinstance(value, bool) and bool not in types:
                raise InvalidEvent(f"{self.name}.{name} must be {types}, got bool")
            if not isinstance(value, types):
                raise InvalidEvent(f"{self.name}.{name} must be {types}, got {type(value).__name__}")


EVENT_TYPES: dict[str, EventType] = {}


def _register(type_name: str, doc: str, /, *, needs_order: bool = False, needs_driver: bool = False,
              **fields: type | tuple[type, ...]) -> None:
    normalized = {k: v if isinstance(v, tuple) else (v,) for k, v in fields.items()}
    EVENT_TYPES[type_name] = EventType(type_name, doc, normalized, needs_order, needs_driver)


_ORDER_STAGE = {"code": str, "status": str, "kitchen_status": str}

_register("order.placed", "A customer placed an order.", needs_order=True,
          code=str, status=str, kitchen_status=str, restaurant_id=int, total=str, item_count=int)
_register("order.confirmed", "The kitchen accepted the order.", needs_order=True, **_ORDER_STAGE)
_register("order.preparing", "The pizza went into the oven.", needs_order=True, **_ORDER_STAGE)
_register("order.ready", "The pizza is boxed and waits for pickup.", needs_order=True, **_ORDER_STAGE)
_register("order.dispatched", "A driver was assigned and heads to the restaurant.", needs_order=True,
          needs_driver=True, **_ORDER_STAGE)
_register("order.out_for_delivery", "The driver picked the order up.", needs_order=True,
          needs_driver=True, **_ORDER_STAGE)
_register("order.delivered", "The order reached the customer; ETA predicted vs actual.",
          needs_order=True, needs_driver=True, **_ORDER_STAGE,
          delivered_at=str, eta_predicted=OPTIONAL_STR, eta_error_seconds=OPTIONAL_NUMBER)
_register("order.cancelled", "The order was cancelled before pickup.", needs_order=True,
          **_ORDER_STAGE, reason=str, previous_status=str)
_register("driver.assigned", "A driver took an order.", needs_order=True, needs_driver=True,
          driver_name=str)
_register("driver.released", "A driver is free again.", needs_driver=True, reason=str)
_register("driver.location_updated", "A driver reported a position.", needs_driver=True,
          lat=NUMBER, lng=NUMBER, heading=OPTIONAL_NUMBER, speed_kmh=OPTIONAL_NUMBER, reported_at=str)
_register("driver.registered", "A new driver joined the fleet.", needs_driver=True,
          name=str, vehicle=str, status=str)
_register("driver.profile_updated", "A driver's name, phone, vehicle or login was edited (on a delivery, "
          "the event carries that order).", needs_driver=True, changed=list, name=str, vehicle=str)
_register("driver.status_changed", "A driver went on or off shift.", needs_driver=True,
          status=str, previous_status=str)
_register("delivery.eta_updated", "The estimated arrival moved (by 30 s or more, or at dispatch).",
          needs_order=True, estimated_arrival=str, previous=OPTIONAL_STR, minutes_remaining=NUMBER,
          reason=str)
_register("batch.rolled_back", "A batch failed; nothing of it was stored or published.",
          reason=str, attempted=list)


def validate(type_name: str, payload: dict[str, Any], *, order_id: object = None,
             driver_id: object = None) -> EventType:
    try:
        event_type = EVENT_TYPES[type_name]
    except KeyError:
        raise InvalidEvent(f"unknown event type {type_name!r}") from None
    event_type.validate(payload, order_id=order_id, driver_id=driver_id)
    return event_type
