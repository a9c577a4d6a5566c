"""The kitchen screen's fragment: one per restaurant, rendered once per change and shared by
the page, the HTTP resync and the socket push (so the three can never drift)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from pizzadelivery.lifecycle import CancelReason, OrderStatus
from pizzadelivery.models import MenuItem, Order, Restaurant

TEMPLATE = "kitchen/_restaurant.html"
# An order waiting this long in a column turns amber, then red.
AGING_MINUTES, LATE_MINUTES = 5, 10
NEXT_STEP = {OrderStatus.PLACED: (OrderStatus.CONFIRMED, _("Confirm")),
             OrderStatus.CONFIRMED: (OrderStatus.PREPARING, _("Into the oven")),
             OrderStatus.PREPARING: (OrderStatus.READY, _("Ready"))}
COLUMNS = [(OrderStatus.PLACED, _("New")), (OrderStatus.CONFIRMED, _("Confirmed")),
           (OrderStatus.PREPARING, _("In the oven")), (OrderStatus.READY, _("Ready for pickup"))]


def age_tone(minutes: int) -> str:
    return "late" if minutes >= LATE_MINUTES else "aging" if minutes >= AGING_MINUTES else "fresh"


@dataclass
class Card:
    order: Order
    since: datetime  # when it entered its column
    waited: int  # minutes in that column
    tone: str
    next_to: str | None
    next_label: str


@dataclass
class Column:
    key: str
    title: str
    cards: list[Card] = field(default_factory=list)


def _card(order: Order, now: datetime) -> Card:
    since = order.reached_at(order.kitchen_status) or order.placed_at
    waited = max(0, int((now - since).total_seconds() // 60))
    next_to, label = NEXT_STEP.get(order.kitchen_status, (None, ""))
    return Card(order, since, waited, age_tone(waited) if next_to else "waiting", next_to, label)


def context(restaurant: Restaurant, orders: list[Order], menu: list[MenuItem], *,
            now: datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    columns = {key: Column(key, title) for key, title in COLUMNS}
    for order in orders:
        columns[order.kitchen_status].cards.append(_card(order, now))
    return {"restaurant": restaurant, "columns": list(columns.values()), "menu": menu,
            "sold_out": sum(not item.is_available for item in menu), "now": now,
            "cancel_reasons": CancelReason.choices}


def render(restaurant: Restaurant, orders: list[Order], menu: list[MenuItem]) -> str:
    return render_to_string(TEMPLATE, context(restaurant, orders, menu))
