"""The mirror's writer: a projection registered with the publisher (``events.publisher``).

Every publish rewrites the documents of what the batch touched, from the rows as they are now,
so the mirror converges whatever order batches arrive in; ``rebuild`` recreates all of it
from the database. The keys are ``pizzadelivery.mirror.keys``.
"""
from __future__ import annotations

from collections.abc import Iterable

from events.publisher import PublishedBatch, RedisWrites, register_projection
from pizzadelivery.lifecycle import ON_THE_ROAD, OrderStatus
from pizzadelivery.mirror import keys
from pizzadelivery.mirror.documents import driver_document, dumps, order_document
from pizzadelivery.models import Driver, Order
from pizzadelivery.selectors import active_orders_by_driver, order_queryset


def _write_orders(orders: Iterable[Order], writes: RedisWrites, *, fresh: bool) -> None:
    for order in orders:
        member = str(order.id)
        created = order.created_at.timestamp()
        writes.hset(keys.order(member), {keys.DOC: dumps(order_document(order)), "status": order.status,
                                         "driver_id": order.driver_id or ""})
        writes.zadd(keys.orders_all(), {member: created})
        if not fresh:
            for status in OrderStatus.values:
                if status != order.status:
                    writes.zrem(keys.orders_with_status(status), member)
        writes.zadd(keys.orders_with_status(order.status), {member: created})
        if order.delivered_at:
            writes.zadd(keys.orders_delivered(), {member: order.delivered_at.timestamp()})


def _write_drivers(drivers: Iterable[Driver], active: dict[int, Order], writes: RedisWrites, *,
                   fresh: bool) -> None:
    for driver in drivers:
        member = str(driver.id)
        writes.hset(keys.driver(member), {keys.DOC: dumps(driver_document(driver, active.get(driver.id))),
                                          "status": driver.status})
        writes.sadd(keys.drivers_all(), member)
        if driver.status == Driver.Status.AVAILABLE and driver.lat is not None:
            writes.geoadd(keys.drivers_available(), float(driver.lng), float(driver.lat), member)
        elif not fresh:
            writes.zrem(keys.drivers_available(), member)


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
        active = {o.driver_id: o for o in orders if o.driver_id in driver_ids and o.delivery_status in ON_THE_ROAD}
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
    register_projection(project, rebuild=rebuild, prefix=keys.prefix, ready_key=keys.ready)
