"""The order lifecycle's vocabulary, in one place: the statuses, their two tracks, the groups
other modules ask about, and how each status is named and coloured on a page.

Two short tracks, because a driver can be sent while the pizza is still in the oven:
- kitchen: ``placed -> confirmed -> preparing -> ready``
- delivery: ``dispatched`` (once confirmed) ``-> out_for_delivery`` (needs ``ready``) ``-> delivered``
- ``cancelled`` from anywhere before ``out_for_delivery``.
An order's ``status`` is the furthest visible stage: the delivery stage once there is one,
else the kitchen stage.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_noop


# Labels and messages are English data (the API and the Redis mirror carry them); gettext_noop
# only marks them for the catalogue, and pages translate them as they render ({% translate %}).
class OrderStatus(models.TextChoices):
    PLACED = "placed", gettext_noop("Placed")
    CONFIRMED = "confirmed", gettext_noop("Confirmed")
    PREPARING = "preparing", gettext_noop("In the oven")
    READY = "ready", gettext_noop("Ready")
    DISPATCHED = "dispatched", gettext_noop("Driver on the way to the shop")
    OUT_FOR_DELIVERY = "out_for_delivery", gettext_noop("Out for delivery")
    DELIVERED = "delivered", gettext_noop("Delivered")
    CANCELLED = "cancelled", gettext_noop("Cancelled")


KITCHEN_TRACK: tuple[str, ...] = (OrderStatus.PLACED, OrderStatus.CONFIRMED, OrderStatus.PREPARING, OrderStatus.READY)
DELIVERY_TRACK: tuple[str, ...] = (OrderStatus.DISPATCHED, OrderStatus.OUT_FOR_DELIVERY, OrderStatus.DELIVERED)
# A driver is on this order (and on no other: the database allows one per driver).
ON_THE_ROAD: tuple[str, ...] = (OrderStatus.DISPATCHED, OrderStatus.OUT_FOR_DELIVERY)
FINISHED: tuple[str, ...] = (OrderStatus.DELIVERED, OrderStatus.CANCELLED)
ACTIVE: tuple[str, ...] = tuple(s for s in OrderStatus.values if s not in FINISHED)
# The kitchen is working on it (a driver sent meanwhile waits for it).
KITCHEN_AT_WORK: tuple[str, ...] = (OrderStatus.CONFIRMED, OrderStatus.PREPARING)
# No driver yet: the order's status is still a kitchen stage.
BEFORE_DISPATCH: tuple[str, ...] = KITCHEN_TRACK
# Past these, an order can no longer be cancelled.
NOT_CANCELLABLE: tuple[str, ...] = (OrderStatus.OUT_FOR_DELIVERY, *FINISHED)
# The tracker's stepper, in lifecycle order. The tracks interleave (a driver may be sent while
# the pizza is in the oven), so "reached" is per step, not "everything before".
STEPS: tuple[str, ...] = (*KITCHEN_TRACK, *DELIVERY_TRACK)
# Every stage with a ``<stage>_at`` timestamp on the order.
STAGES: tuple[str, ...] = tuple(OrderStatus.values)


@dataclass(frozen=True)
class Look:
    """How a status shows on a page: a short label, a tone (a CSS class of the dashboard) and
    a colour (badges in the admin)."""

    short: str
    tone: str
    colour: str


LOOK: dict[str, Look] = {
    OrderStatus.PLACED: Look(gettext_noop("Placed"), "info", "#6b6258"),
    OrderStatus.CONFIRMED: Look(gettext_noop("Confirmed"), "info", "#2563a6"),
    OrderStatus.PREPARING: Look(gettext_noop("In the oven"), "warm", "#b7791f"),
    OrderStatus.READY: Look(gettext_noop("Ready"), "warm", "#7a4fb5"),
    OrderStatus.DISPATCHED: Look(gettext_noop("Dispatched"), "go", "#0f7b8a"),
    OrderStatus.OUT_FOR_DELIVERY: Look(gettext_noop("Out for delivery"), "go", "#c8331f"),
    OrderStatus.DELIVERED: Look(gettext_noop("Delivered"), "ok", "#1f7a3f"),
    OrderStatus.CANCELLED: Look(gettext_noop("Cancelled"), "bad", "#8a8178"),
}
class CancelReason(models.TextChoices):
    """Why an order was cancelled: staff pick one (and may add a note); the customer is told the
    customer-facing message for it, never the staff's wording."""

    RESTAURANT_CLOSED = "restaurant_closed", gettext_noop("Restaurant closed")
    OUT_OF_STOCK = "out_of_stock", gettext_noop("Out of stock")
    CUSTOMER_ASKED = "customer_asked", gettext_noop("Customer asked")
    NO_DRIVER = "no_driver", gettext_noop("No driver available")
    OTHER = "other", gettext_noop("Other")


CUSTOMER_MESSAGE: dict[str, str] = {
    CancelReason.RESTAURANT_CLOSED: gettext_noop("The pizzeria had to close before it could make your order. "
                                    "You will not be charged."),
    CancelReason.OUT_OF_STOCK: gettext_noop("The pizzeria ran out of something your order needs. You will not be charged."),
    CancelReason.CUSTOMER_ASKED: gettext_noop("You cancelled this order. You will not be charged."),
    CancelReason.NO_DRIVER: gettext_noop("We could not find a driver to bring your order in time. You will not be charged."),
    CancelReason.OTHER: gettext_noop("The pizzeria could not complete your order. You will not be charged."),
}


def customer_message(reason_code: str) -> str:
    return CUSTOMER_MESSAGE.get(reason_code, CUSTOMER_MESSAGE[CancelReason.OTHER])


# A driver's shift status, as the admin colours it.
DRIVER_STATUS_COLOUR = {"available": "#1f7a3f", "busy": "#c8331f", "offline": "#8a8178"}


def short_label(status: str) -> str:
    return LOOK[status].short


def tone(status: str) -> str:
    return LOOK[status].tone
