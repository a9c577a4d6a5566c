"""The Redis mirror of orders and drivers: a projection registered with the publisher.

Keys (prefix ``pd:m:``):
  order:<uuid>              hash  doc (JSON order_document), status, driver_id
  orders:all                zset  order id -> created (epoch s)
  orders:status:<status>    zset  order id -> created, one set per status
  orders:delivered          zset  order id -> delivered (epoch s)
  driver:<id>               hash  doc (JSON driver_document), status
  drivers:all               set   driver ids
  drivers:available         GEO   available drivers with a known position
The database is the truth; every publish rewrites the documents of what the batch touched,
from the rows as they are now, so the mirror converges whatever order batches arrive in.
"""
from __future__ import annotations

import json
from collections.abc import Iterable

from events.publisher import PublishedBatch, RedisWrites, register_projection
from pizzadelivery.models import ACTIVE_DELIVERY, Driver, Order, OrderStatus
from pizzadelivery.redis import key
from pizzadelivery.selectors import (
    active_orders_by_driver,
    driver_document,
    driver_key,
    order_document,
    order_key,
    order_queryset,
)


def _dumps(doc: dict) -> str:
    return json.dumps(doc, separators=(",", ":"))


def status_key(status: str) -> str:
    return key("m", "orders", "status", status)


def _write_orders(orders: Iterable[Order], writes: RedisWrites, *, fresh: bool) -> None:
    for order in orders:
        member = str(order.id)
        created = order.created_at.timestamp()
        writes.hset(order_key(member), {"doc": _dumps(order_document(order)), "status": order.status,
                                        "driver_id": order.driver_id or ""})
        writes.zadd(key("m", "orders", "all"), {member: created})
        if not fresh:
            for status in OrderStatus.values:
                if status != order.status:
                    writes.zrem(status_key(status), member)
        writes.zadd(status_key(order.status), {member: created})
        if order.delivered_at:
            writes.zadd(key("m", "orders", "delivered"), {member: order.delivered_at.timestamp()})


def _write_drivers(drivers: Iterable[Driver], active: dict[int, Order], writes: RedisWrites, *,
                   fresh: bool) -> None:
    geo = key("m", "drivers", "available")
    for driver in drivers:
        member = str(driver.id)
        writes.hset(driver_key(member), {"doc": _dumps(driver_document(driver, active.get(driver.id))),
                                         "status": driver.status})
        writes.sadd(key("m", "drivers", "all"), member)
        if driver.status == Driver.Status.AVAILABLE and driver.lat is not None:
            writes.geoadd(geo, float(driver.lng), float(driver.lat), member)
        elif not fresh:
            writes.zrem(geo, member)


def project(published: PublishedBatch, writes: RedisWrites) -> None:
    orders: list[Order] = []
    order_ids = published.order_ids()
    if order_ids:
        orders = list(order_queryset().filter(pk__in=order_ids))
        _write_orders(orders, writes, fresh=False)
    driver_ids = published.driver_ids()
    if driver_ids:
        # The orders just read carry their drivers (select_related), read in the same query;
        # one still on the road is its driver's active delivery (at most one per driver). Only
        # the drivers they leave unknown cost a query: a location update costs none.
        drivers = {o.driver_id: o.driver for o in orders if o.driver_id in driver_ids}
        active = {o.driver_id: o for o in orders if o.driver_id in driver_ids and o.delivery_status in ACTIVE_DELIVERY}
        if unread := [pk for pk in driver_ids if pk not in drivers]:
            drivers.update((driver.id, driver) for driver in Driver.objects.filter(pk__in=unread))
        if unmatched := [pk for pk in driver_ids if pk not in active]:
            active.update(active_orders_by_driver(unmatched))
        _write_drivers(drivers.values(), active, writes, fresh=False)


def rebuild(writes: RedisWrites) -> None:
    _write_orders(order_queryset().iterator(chunk_size=2000), writes, fresh=True)
    drivers = list(Driver.objects.all())
    _write_drivers(drivers, active_orders_by_driver([d.id for d in drivers]), writes, fresh=True)


def register() -> None:
    register_projection(project, rebuild=rebuild, prefix=key("m", ""))
