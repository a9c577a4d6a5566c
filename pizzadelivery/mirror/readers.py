"""Reads of the mirror, each with the database behind it when Redis is down (or not yet
rebuilt): the caller gets the same documents either way, and where they came from."""
from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import redis

from pizzadelivery import eta
from pizzadelivery.infra.redis import REDIS_ERRORS, get_redis
from pizzadelivery.lifecycle import OrderStatus
from pizzadelivery.mirror import keys
from pizzadelivery.mirror.documents import DriverDocument, OrderDocument, driver_document, order_document
from pizzadelivery.models import Driver
from pizzadelivery.selectors import active_order_for, order_queryset

logger = logging.getLogger(__name__)


def is_ready(client: redis.Redis | None = None) -> bool:
    """Whether the mirror was built since Redis last started empty (raises when Redis is down)."""
    return bool((client or get_redis()).exists(keys.ready()))


def order_document_get(order_id: uuid.UUID) -> tuple[OrderDocument | None, str]:
    """The order's document and where it came from (``redis`` or ``database``)."""
    try:
        client = get_redis()
        with client.pipeline(transaction=False) as pipe:
            pipe.exists(keys.ready())
            pipe.hget(keys.order(order_id), keys.DOC)
            ready, raw = pipe.execute()
        if ready and raw:
            return json.loads(raw), "redis"
        # Not in the mirror is not "no such order": its batch may still wait in the outbox.
    except REDIS_ERRORS as exc:
        logger.debug("mirror unavailable, reading the database: %s", exc)
    order = order_queryset().filter(pk=order_id).first()
    return (order_document(order) if order else None), "database"


# The delivery state's read, in one round trip: is the mirror ready, the order's document and,
# when the order names a driver, the driver's. (The driver's key is derived in the script, so
# it needs the one logical Redis the publisher needs anyway, not a cluster.)
_ORDER_AND_DRIVER = """
local ready = redis.call('EXISTS', KEYS[1])
local order = redis.call('HMGET', KEYS[2], ARGV[2], 'driver_id')
local driver = false
if order[1] and order[2] and order[2] ~= '' then
  driver = redis.call('HGET', ARGV[1] .. order[2], ARGV[2])
end
return {ready, order[1], driver}
"""
_order_and_driver_script: redis.commands.core.Script | None = None


def order_and_driver_documents_get(
        order_id: uuid.UUID) -> tuple[OrderDocument | None, DriverDocument | None, str]:
    """The order's document, its driver's (None without one) and where they came from."""
    global _order_and_driver_script
    try:
        client = get_redis()
        if _order_and_driver_script is None:
            _order_and_driver_script = client.register_script(_ORDER_AND_DRIVER)
        # EVALSHA on this client (a Redis that lost the script is sent it again).
        ready, order_raw, driver_raw = _order_and_driver_script(
            keys=[keys.ready(), keys.order(order_id)], args=[keys.driver(""), keys.DOC], client=client)
        # A miss falls through to the database: the order's batch may still wait in the outbox
        # (left to the relay behind a backlog), and a customer who just got 201 must see it.
        if ready and order_raw:
            order_doc = json.loads(order_raw)
            if driver_raw or not order_doc.get("driver_id"):
                return order_doc, (json.loads(driver_raw) if driver_raw else None), "redis"
            # The order names a driver the mirror lacks: that one from the database.
            return order_doc, driver_document_get(order_doc["driver_id"], prefer_redis=False), "redis"
    except REDIS_ERRORS as exc:
        logger.debug("mirror unavailable, reading the database: %s", exc)
    order = order_queryset().filter(pk=order_id).first()
    if order is None:
        return None, None, "database"
    driver = order.driver
    driver_doc = driver_document(driver, active_order_for(driver)) if driver else None
    return order_document(order), driver_doc, "database"


def driver_document_get(driver_id: int, *, prefer_redis: bool = True) -> DriverDocument | None:
    if prefer_redis:
        try:
            raw = get_redis().hget(keys.driver(driver_id), keys.DOC)
            if raw:
                return json.loads(raw)
        except REDIS_ERRORS:
            pass
    driver = Driver.objects.filter(pk=driver_id).first()
    return driver_document(driver, active_order_for(driver)) if driver else None


def nearest_available_driver_ids(*, lat: float, lng: float, limit: int = 10) -> list[int]:
    """Nearest available drivers first: Redis GEOSEARCH, or the database when Redis is down."""
    try:
        client = get_redis()
        if is_ready(client):
            found = client.geosearch(keys.drivers_available(), longitude=lng, latitude=lat,
                                     radius=50, unit="km", sort="ASC", count=limit)
            if found:
                return [int(member) for member in found]
    except REDIS_ERRORS as exc:
        logger.info("GEOSEARCH unavailable, choosing the driver from the database: %s", exc)
    candidates = Driver.objects.filter(status=Driver.Status.AVAILABLE, lat__isnull=False, lng__isnull=False)
    ranked = sorted(candidates, key=lambda d: eta.haversine_m(lat, lng, float(d.lat), float(d.lng)))
    return [driver.id for driver in ranked[:limit]]


# --- the system's overview (the dashboard and /api/state) ---------------------------------

@dataclass(frozen=True)
class Overview:
    """Everything the system state is computed from, as documents."""

    counts: dict[str, int]
    newest: dict[str, list[OrderDocument]]  # status -> order documents, newest first
    total_orders: int
    orders_today: int
    orders_last_hour: int
    orders_by_hour: list[int]  # oldest hour first
    completed_today: int
    delivered_sample: list[OrderDocument]  # today's deliveries, latest first
    drivers: list[DriverDocument]  # not offline, by name
    assignments: dict[str, OrderDocument]  # order id -> order document, for active drivers


def by_name(drivers: Sequence[DriverDocument]) -> list[DriverDocument]:
    return sorted(drivers, key=lambda d: (d["name"], d["id"]))


def overview(*, now: datetime, day_start: datetime, hour_ago: datetime,
             hours: Sequence[tuple[datetime, datetime | None]], per_status: int, sample: int,
             client: redis.Redis | None = None) -> Overview | None:
    """The overview from the mirror, or None when the mirror is not ready. ``hours`` are the
    (start, end) of each charted hour; the current one's end is None (it ends now)."""
    client = client or get_redis()
    statuses = OrderStatus.values
    epoch_now = now.timestamp()
    # MULTI/EXEC: the counts and ids are read at one instant, between two published batches.
    with client.pipeline(transaction=True) as pipe:
        pipe.exists(keys.ready())
        for status in statuses:
            pipe.zcard(keys.orders_with_status(status))
            pipe.zrevrange(keys.orders_with_status(status), 0, per_status - 1)
        pipe.zcard(keys.orders_all())
        pipe.zcount(keys.orders_all(), day_start.timestamp(), epoch_now)
        pipe.zcount(keys.orders_all(), hour_ago.timestamp(), epoch_now)
        for start, end in hours:
            # Each hour excludes its end, the current one ends now (inclusive).
            pipe.zcount(keys.orders_all(), start.timestamp(), f"({end.timestamp()}" if end else epoch_now)
        pipe.zcount(keys.orders_delivered(), day_start.timestamp(), epoch_now)
        pipe.zrevrangebyscore(keys.orders_delivered(), epoch_now, day_start.timestamp(), start=0, num=sample)
        pipe.smembers(keys.drivers_all())
        ready, *rest = pipe.execute()
    if not ready:
        return None
    counts, newest_ids = {}, {}
    for status in statuses:
        counts[status], newest_ids[status] = rest.pop(0), rest.pop(0)
    total, today, last_hour = rest[0], rest[1], rest[2]
    by_hour = rest[3:3 + len(hours)]
    completed, delivered_ids, driver_ids = rest[3 + len(hours):]

    order_ids = list(dict.fromkeys([*(i for ids in newest_ids.values() for i in ids), *delivered_ids]))
    drivers_sorted = sorted(driver_ids, key=int)
    with client.pipeline(transaction=False) as pipe:
        for order_id in order_ids:
            pipe.hget(keys.order(order_id), keys.DOC)
        for driver_id in drivers_sorted:
            pipe.hget(keys.driver(driver_id), keys.DOC)
        raw = pipe.execute()
    docs = {order_id: json.loads(doc) for order_id, doc in zip(order_ids, raw) if doc}
    drivers = by_name([d for d in (json.loads(doc) for doc in raw[len(order_ids):] if doc)
                       if d["status"] != Driver.Status.OFFLINE])

    wanted = [d["current_order_id"] for d in drivers if d["current_order_id"]]
    missing = [order_id for order_id in wanted if order_id not in docs]
    if missing:
        docs.update(zip(missing, order_documents(missing, client=client)))
        docs = {k: v for k, v in docs.items() if v is not None}
    return Overview(
        counts=counts,
        newest={status: [docs[i] for i in ids if i in docs] for status, ids in newest_ids.items()},
        total_orders=total, orders_today=today, orders_last_hour=last_hour, orders_by_hour=list(by_hour),
        completed_today=completed,
        delivered_sample=[docs[i] for i in delivered_ids if i in docs],
        drivers=drivers,
        assignments={i: docs[i] for i in wanted if i in docs},
    )


def order_documents(order_ids: Sequence[str], *, client: redis.Redis | None = None) -> list[OrderDocument | None]:
    """The mirror's documents of these orders, in that order (None where it has none)."""
    with (client or get_redis()).pipeline(transaction=False) as pipe:
        for order_id in order_ids:
            pipe.hget(keys.order(order_id), keys.DOC)
        return [json.loads(doc) if doc else None for doc in pipe.execute()]


def oldest_with_status(statuses: Sequence[str], *, limit: int) -> list[OrderDocument] | None:
    """The oldest orders in any of ``statuses``, oldest first (ties by id), or None when the
    mirror is not ready. Raises when Redis is down."""
    client = get_redis()
    with client.pipeline(transaction=True) as pipe:
        pipe.exists(keys.ready())
        for status in statuses:
            pipe.zrange(keys.orders_with_status(status), 0, limit - 1, withscores=True)
        ready, *found = pipe.execute()
    if not ready:
        return None
    oldest = sorted((score, member) for members in found for member, score in members)[:limit]
    return [doc for doc in order_documents([member for _, member in oldest], client=client) if doc]
