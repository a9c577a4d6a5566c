"""The dispatcher's order panel: everything about one order and the moves legal in its state
(nothing else is offered), rendered for the panel's HTMX swap and its deep link alike."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone

from events.selectors import order_timeline
from pizzadelivery import eta
from pizzadelivery.dispatching import Candidate, dispatch_candidates
from pizzadelivery.lifecycle import (
    NOT_CANCELLABLE,
    STEPS,
    CancelReason,
    OrderStatus,
    customer_message,
    short_label,
    tone,
)
from pizzadelivery.models import FleetSettings, Order
from pizzadelivery.policy import may
from statedash import fragments

TEMPLATE = "statedash/_panel.html"


@dataclass(frozen=True)
class Stage:
    key: str
    label: str
    at: datetime | None


def _stages(order: Order) -> list[Stage]:
    stages = [Stage(key, OrderStatus(key).label, order.reached_at(key)) for key in STEPS]
    if order.cancelled_at:
        stages.append(Stage("cancelled", "Cancelled", order.cancelled_at))
    return stages


def _estimate(order: Order, now: datetime) -> datetime | None:
    if order.status in (OrderStatus.DELIVERED, OrderStatus.CANCELLED):
        return order.delivered_at
    if order.eta_at:
        return order.eta_at
    return eta.estimate_arrival(eta.Trip.of(order), now=now, driver=None)


def context(order: Order, user: Any, *, now: datetime | None = None, message: str = "",
            error: str = "") -> dict[str, Any]:
    now = now or timezone.now()
    to_dispatch = (not order.delivery_status and not order.cancelled_at
                   and order.kitchen_status != OrderStatus.PLACED)
    can_dispatch = to_dispatch and may(user, "pd.dispatch_order", order)
    can_reassign = order.delivery_status == OrderStatus.DISPATCHED and may(user, "pd.dispatch_order", order)
    candidates: list[Candidate] = []
    if can_dispatch or can_reassign:
        candidates = [c for c in dispatch_candidates(order) if c.driver.id != order.driver_id]
    timeline = [fragments.feed_items(events) for _correlation_id, events in order_timeline(order_id=order.id)]
    fleet = FleetSettings.objects.first()
    return {
        "order": order, "now": now, "stages": _stages(order),
        "status_label": short_label(order.status), "status_tone": tone(order.status),
        "promised": order.eta_at_dispatch, "expected": _estimate(order, now),
        "late_minutes": round((_estimate(order, now) - order.eta_at_dispatch).total_seconds() / 60)
        if order.eta_at_dispatch and _estimate(order, now) else None,
        "can_dispatch": can_dispatch, "can_reassign": can_reassign, "candidates": candidates,
        "can_cancel": order.status not in NOT_CANCELLABLE and may(user, "pd.cancel_order", order),
        "can_deliver": order.delivery_status == OrderStatus.OUT_FOR_DELIVERY
        and may(user, "pd.deliver_with_reason", order),
        "cancel_reasons": CancelReason.choices,
        "customer_messages": {code: customer_message(code) for code in CancelReason.values},
        "cancel_message": customer_message(order.cancel_code) if order.cancel_code else "",
        "timeline": timeline[::-1],  # newest batch first
        "auto_dispatch": bool(fleet and fleet.auto_dispatch),
        "message": message, "error": error,
    }


def render(order: Order, user: Any, **extra: Any) -> str:
    return render_to_string(TEMPLATE, context(order, user, **extra))
