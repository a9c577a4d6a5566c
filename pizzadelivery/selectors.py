"""Reads of the marketplace from the database (the mirror's reads are ``pizzadelivery.mirror``)."""
from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from pizzadelivery.lifecycle import ON_THE_ROAD
from pizzadelivery.models import Driver, MenuItem, Order, OrderItem, Restaurant


def order_queryset() -> QuerySet[Order]:
    """Orders with everything their document shows, in one query (and one for the items)."""
    return Order.objects.select_related("restaurant", "driver", "customer").prefetch_related(
        Prefetch("items", queryset=OrderItem.objects.order_by("id")))


def active_order_for(driver: Driver) -> Order | None:
    return Order.objects.filter(driver=driver, delivery_status__in=ON_THE_ROAD).first()


def active_orders_by_driver(driver_ids: list[int]) -> dict[int, Order]:
    orders = Order.objects.filter(driver_id__in=driver_ids, delivery_status__in=ON_THE_ROAD)
    return {order.driver_id: order for order in orders}


def restaurant_list() -> QuerySet[Restaurant]:
    return Restaurant.objects.order_by("name")


def menu_for(restaurant: Restaurant) -> QuerySet[MenuItem]:
    return restaurant.menu_items.order_by("name", "size")
