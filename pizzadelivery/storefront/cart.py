"""The storefront's cart: menu item quantities per pizzeria, kept in the session.

A cart is not an order and has no lifecycle, so it lives in the session, not in the
database; checkout turns it into an order through ``services.order_create``.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.contrib.sessions.backends.base import SessionBase
from django.utils.translation import gettext

from pizzadelivery.models import MenuItem, Restaurant
from pizzadelivery.services import MAX_LINES, MAX_QUANTITY, LineInput

SESSION_KEY = "carts"


class CartError(ValueError):
    """A cart change that cannot be made; the message is for the customer."""


@dataclass(frozen=True)
class CartLine:
    item: MenuItem
    quantity: int

    @property
    def at_cap(self) -> bool:
        """One more would pass what one order may hold of a dish: the + button is off."""
        return self.quantity >= MAX_QUANTITY

    @property
    def total(self) -> Decimal:
        return self.item.price * self.quantity


@dataclass(frozen=True)
class Cart:
    restaurant: Restaurant
    lines: list[CartLine]

    @property
    def total(self) -> Decimal:
        return sum((line.total for line in self.lines), Decimal("0.00"))

    @property
    def count(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def is_empty(self) -> bool:
        return not self.lines

    def order_lines(self) -> list[LineInput]:
        return [LineInput(line.item.id, line.quantity) for line in self.lines]


def _quantities(session: SessionBase, restaurant: Restaurant) -> dict[str, int]:
    return dict(session.get(SESSION_KEY, {}).get(str(restaurant.id), {}))


def _store(session: SessionBase, restaurant: Restaurant, quantities: dict[str, int]) -> None:
    carts = dict(session.get(SESSION_KEY, {}))
    if quantities:
        carts[str(restaurant.id)] = quantities
    else:
        carts.pop(str(restaurant.id), None)
    session[SESSION_KEY] = carts


def cart_for(session: SessionBase, restaurant: Restaurant) -> Cart:
    """The cart as the menu stands now: items taken off the menu or sold out drop out."""
    quantities = _quantities(session, restaurant)
    items = restaurant.menu_items.filter(is_available=True).in_bulk([int(pk) for pk in quantities])
    return Cart(restaurant, [CartLine(items[int(pk)], quantity) for pk, quantity in quantities.items()
                             if int(pk) in items])


def _menu_item(restaurant: Restaurant, item_id: int) -> MenuItem:
    item = restaurant.menu_items.filter(pk=item_id).first()
    if item is None:
        raise CartError(gettext("That dish is not on this menu."))
    if not item.is_available:
        raise CartError(gettext("%(dish)s is sold out right now.") % {"dish": item.name})
    return item


def set_quantity(session: SessionBase, restaurant: Restaurant, item_id: int, quantity: int) -> None:
    """Set a line's quantity (0 removes it); more than one order may hold is refused."""
    quantities = _quantities(session, restaurant)
    if quantity <= 0:
        quantities.pop(str(item_id), None)
    else:
        item = _menu_item(restaurant, item_id)
        if str(item.id) not in quantities and len(quantities) >= MAX_LINES:
            raise CartError(gettext("An order holds at most %(limit)d different dishes.") % {"limit": MAX_LINES})
        if quantity > MAX_QUANTITY:
            raise CartError(gettext("An order holds at most %(limit)d of one dish.") % {"limit": MAX_QUANTITY})
        quantities[str(item.id)] = quantity
    _store(session, restaurant, quantities)


def add(session: SessionBase, restaurant: Restaurant, item_id: int, quantity: int = 1) -> None:
    current = _quantities(session, restaurant).get(str(item_id), 0)
    set_quantity(session, restaurant, item_id, current + quantity)


def clear(session: SessionBase, restaurant: Restaurant) -> None:
    _store(session, restaurant, {})


# A customer's checkout runs under a correlation id of its own kind, so that what a customer did
# is told apart from what an operator or an integrator did (the demo simulator serves customers'
# orders but leaves alone what people drive: pizzadelivery.demo.simulator).
CHECKOUT_CORRELATION_PREFIX = "shop-"


def checkout_correlation_id(request_correlation_id: str) -> str:
    return f"{CHECKOUT_CORRELATION_PREFIX}{request_correlation_id}"[:64]
