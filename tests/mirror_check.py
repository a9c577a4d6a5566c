"""Compare the Redis mirror with the database, key by key."""
from __future__ import annotations

import json

from pizzadelivery.infra.redis import get_redis
from pizzadelivery.lifecycle import OrderStatus
from pizzadelivery.mirror import keys
from pizzadelivery.mirror.documents import driver_document, order_document
from pizzadelivery.models import Driver
from pizzadelivery.selectors import active_orders_by_driver, order_queryset


def mirror_differences() -> list[str]:
    """Every way the mirror differs from the database (empty when they agree)."""
    client = get_redis()
    problems: list[str] = []
    if not client.exists(keys.ready()):
        problems.append("mirror not marked ready")
    orders = list(order_queryset())
    for order in orders:
        raw = client.hget(keys.order(order.id), "doc")
        if raw is None or json.loads(raw) != json.loads(json.dumps(order_document(order))):
            problems.append(f"order {order.code}: mirror doc differs")
    for status in OrderStatus.values:
        in_redis = set(client.zrange(keys.orders_with_status(status), 0, -1))
        in_db = {str(o.id) for o in orders if o.status == status}
        if in_redis != in_db:
            problems.append(f"status set {status}: redis {len(in_redis)} vs db {len(in_db)}")
    if set(client.zrange(keys.orders_all(), 0, -1)) != {str(o.id) for o in orders}:
        problems.append("orders:all differs")
    drivers = list(Driver.objects.all())
    active = active_orders_by_driver([d.id for d in drivers])
    for driver in drivers:
        raw = client.hget(keys.driver(driver.id), "doc")
        if raw is None or json.loads(raw) != json.loads(json.dumps(driver_document(driver, active.get(driver.id)))):
            problems.append(f"driver {driver.id}: mirror doc differs")
    geo = set(client.zrange(keys.drivers_available(), 0, -1))
    expected_geo = {str(d.id) for d in drivers if d.status == "available" and d.lat is not None}
    if geo != expected_geo:
        problems.append(f"available GEO differs: {sorted(geo ^ expected_geo)}")
    return problems
