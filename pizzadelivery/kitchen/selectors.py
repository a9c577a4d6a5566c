"""What the kitchen screen shows: each restaurant's orders from placed until picked up."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet

from pizzadelivery.lifecycle import OrderStatus
from pizzadelivery.models import MenuItem, Order, Restaurant
from pizzadelivery.policy import principal
from pizzadelivery.selectors import order_queryset


def kitchen_restaurants(user: Any) -> QuerySet[Restaurant]:
    """The pizzerias whose screen this user runs (an admin: every one)."""
    who = principal(user)
    restaurants = Restaurant.objects.order_by("name")
    return restaurants if who.is_admin else restaurants.filter(pk__in=who.restaurant_ids)


def board_orders(restaurant_ids: Iterable[int]) -> dict[int, list[Order]]:
    """Orders the kitchen still has to do or hand over, oldest first, by restaurant: not
    cancelled, not yet picked up."""
    ids = list(restaurant_ids)
    found: dict[int, list[Order]] = {pk: [] for pk in ids}
    orders = (order_queryset().filter(restaurant_id__in=ids, cancelled_at__isnull=True)
              .exclude(delivery_status__in=[OrderStatus.OUT_FOR_DELIVERY, OrderStatus.DELIVERED])
              .order_by("placed_at", "id"))
    for order in orders:
        found[order.restaurant_id].append(order)
    return found


def menu_of(restaurant_ids: Iterable[int]) -> dict[int, list[MenuItem]]:
    ids = list(restaurant_ids)
    found: dict[int, list[MenuItem]] = {pk: [] for pk in ids}
    for item in MenuItem.objects.filter(restaurant_id__in=ids).order_by("name", "size"):
        found[item.restaurant_id].append(item)
    return found
