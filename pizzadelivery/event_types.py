"""Every event type the marketplace emits, with its payload and its one-line summary.

Registered with ``events.registry`` when the app is ready; only ``pizzadelivery.services``
adds these events to a batch.
"""
from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from events.registry import NUMBER, OPTIONAL_NUMBER, OPTIONAL_STR, register
from pizzadelivery.lifecycle import LOOK, OrderStatus
from pizzadelivery.models import Driver

_ORDER_STAGE = {"code": str, "status": str, "kitchen_status": str}


def _minutes(seconds: float) -> str:
    return f"{abs(seconds) / 60:.0f} min" if abs(seconds) >= 90 else f"{abs(seconds):.0f} s"


def _delivered(p: dict[str, Any], driver: str) -> str:
    error = p.get("eta_error_seconds")
    when = "delivered" if error is None else "delivered on the promised minute" if abs(error) < 30 else (
        f"delivered {_minutes(error)} {'late' if error > 0 else 'early'}")
    return f"{when} · PIN waived: {p['reason']}" if p.get("proof") == "waived" else when


def _eta(p: dict[str, Any], driver: str) -> str:
    eta = parse_datetime(p["estimated_arrival"]) if p["estimated_arrival"] else None
    when = timezone.localtime(eta).strftime("%H:%M") if eta else "?"
    return f"ETA {when} (in {p['minutes_remaining']:g} min) · {p['reason']}"


def _vehicle(code: str) -> str:
    return dict(Driver.Vehicle.choices).get(code, code).lower()


def _dispatched(p: dict[str, Any], driver: str) -> str:
    who = f"{driver} heads to the shop" if driver else "driver heads to the shop"
    return f"{who} · auto-dispatched" if p.get("how") == "auto" else who


def _kitchen(p: dict[str, Any], driver: str) -> str:
    return f"kitchen {OrderStatus(p['kitchen_status']).label.lower()}"


def register_all() -> None:
    register("order.placed", "A customer placed an order.", needs_order=True, tone=LOOK["placed"].tone,
             summary=lambda p, d: f"{p['item_count']} item{'s' if p['item_count'] != 1 else ''} · €{p['total']}",
             code=str, status=str, kitchen_status=str, restaurant_id=int, total=str, item_count=int)
    register("order.confirmed", "The kitchen accepted the order.", needs_order=True,
             tone=LOOK["confirmed"].tone, summary=_kitchen, **_ORDER_STAGE)
    register("order.preparing", "The pizza went into the oven.", needs_order=True,
             tone=LOOK["preparing"].tone, summary=_kitchen, **_ORDER_STAGE)
    register("order.ready", "The pizza is boxed and waits for pickup.", needs_order=True,
             tone=LOOK["ready"].tone, summary=_kitchen, **_ORDER_STAGE)
    register("order.dispatched", "A driver was assigned and heads to the restaurant (``how``: chosen by a "
             "dispatcher, the nearest, or ``auto``-dispatched, with its ``note``).", needs_order=True,
             needs_driver=True, tone=LOOK["dispatched"].tone, summary=_dispatched, **_ORDER_STAGE, how=str, note=str)
    register("order.reassigned", "Another driver took over before pickup (the previous one is released in the "
             "same batch).", needs_order=True, needs_driver=True, tone="driver",
             summary=lambda p, d: f"reassigned to {d}" if d else "reassigned", **_ORDER_STAGE,
             previous_driver_id=OPTIONAL_NUMBER, note=str)
    register("fleet.auto_dispatch_changed", "A dispatcher switched auto-dispatch on or off.", tone="info",
             summary=lambda p, d: f"auto-dispatch {'on' if p['enabled'] else 'off'} ({p['by']})", enabled=bool, by=str)
    register("order.out_for_delivery", "The driver picked the order up.", needs_order=True,
             needs_driver=True, tone=LOOK["out_for_delivery"].tone,
             summary=lambda p, d: f"picked up by {d}" if d else "picked up", **_ORDER_STAGE)
    register("order.delivered", "The order reached the customer; ETA predicted vs actual.",
             needs_order=True, needs_driver=True, tone="ok", summary=_delivered, **_ORDER_STAGE,
             delivered_at=str, eta_predicted=OPTIONAL_STR, eta_error_seconds=OPTIONAL_NUMBER,
             proof=str, reason=str)
    register("delivery.pin_rejected", "A wrong proof-of-delivery PIN was tried (locked after 5).",
             needs_order=True, needs_driver=True, tone="bad",
             summary=lambda p, d: f"wrong PIN ({p['attempts']} of 5){' · locked' if p['locked'] else ''}",
             attempts=int, locked=bool)
    register("order.cancelled", "The order was cancelled before pickup.", needs_order=True, tone="bad",
             summary=lambda p, d: f"cancelled at {p['previous_status'].replace('_', ' ')}: {p['reason']}",
             **_ORDER_STAGE, reason=str, reason_code=str, previous_status=str)
    register("driver.assigned", "A driver took an order.", needs_order=True, needs_driver=True, tone="driver",
             summary=lambda p, d: f"{p['driver_name']} assigned", driver_name=str)
    register("driver.released", "A driver is free again.", needs_driver=True, tone="driver",
             summary=lambda p, d: f"{d} free again ({p['reason']})", reason=str)
    register("driver.location_updated", "A driver reported a position.", needs_driver=True, tone="driver",
             telemetry=True, summary=lambda p, d: f"{d} at {p['lat']:.5f}, {p['lng']:.5f}",
             lat=NUMBER, lng=NUMBER, heading=OPTIONAL_NUMBER, speed_kmh=OPTIONAL_NUMBER, reported_at=str)
    register("driver.registered", "A new driver joined the fleet.", needs_driver=True, tone="driver",
             summary=lambda p, d: f"{p['name']} joined the fleet ({_vehicle(p['vehicle'])}, {p['status']})",
             name=str, vehicle=str, status=str)
    register("driver.profile_updated", "A driver's name, phone, vehicle or login was edited (on a delivery, "
             "the event carries that order).", needs_driver=True, tone="driver",
             summary=lambda p, d: f"{p['name']}: profile edited ({', '.join(p['changed'])})",
             changed=list, name=str, vehicle=str)
    register("driver.status_changed", "A driver went on or off shift.", needs_driver=True, tone="driver",
             summary=lambda p, d: f"{d}: {p['previous_status']} → {p['status']}", status=str, previous_status=str)
    register("delivery.eta_updated", "The estimated arrival moved (by 30 s or more, or at dispatch).",
             needs_order=True, tone="eta", summary=_eta,
             estimated_arrival=str, previous=OPTIONAL_STR, minutes_remaining=NUMBER, reason=str)
    register("restaurant.opened", "A pizzeria opened for orders.", tone="ok",
             summary=lambda p, d: f"{p['name']} opened", restaurant_id=int, name=str)
    register("restaurant.closed", "A pizzeria stopped taking orders.", tone="bad",
             summary=lambda p, d: f"{p['name']} closed", restaurant_id=int, name=str)
    register("menu_item.sold_out", "A dish was marked sold out.", tone="warm",
             summary=lambda p, d: f"{p['name']} sold out", restaurant_id=int, menu_item_id=int, name=str)
    register("menu_item.available", "A sold-out dish is back on the menu.", tone="ok",
             summary=lambda p, d: f"{p['name']} back on the menu", restaurant_id=int, menu_item_id=int, name=str)
