"""The system state: orders by status, stats, active drivers, health.

Computed from the Redis mirror (``pizzadelivery/mirror.py``) while it is ready, from the
database otherwise; both readers produce the same order and driver documents, and every
figure below is computed by the same functions from those documents, so the two paths give
the same numbers on the same data (``source`` says which one answered).
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import fmean
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import redis
from django.conf import settings
from rest_framework.renderers import JSONRenderer
from django.core.cache import caches
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from events.models import Event
from events.publisher import last_stream_seq, mirror_ready_key
from events.selectors import event_list
from pizzadelivery.models import ACTIVE_DELIVERY, Driver, Order, OrderStatus
from pizzadelivery.redis import get_redis, key
from pizzadelivery.selectors import (
    active_orders_by_driver,
    driver_document,
    driver_key,
    order_document,
    order_key,
    order_queryset,
)
from pizzadelivery.selectors import active_statuses as _active_statuses
from statedash.health import REDIS_ERRORS, system_health

logger = logging.getLogger(__name__)

ORDERS_PER_STATUS = 10
HOURS_CHARTED = 12
# Delivery-time figures are over today's deliveries, the latest ones first, at most this many.
DELIVERY_SAMPLE = 500
# Delivered no later than the ETA promised at dispatch plus this grace counts as on time.
ON_TIME_GRACE = timedelta(minutes=2)
STATE_CACHE_KEY = "statedash:state:json:v2"  # (fresh until, rendered JSON)
# How long past its freshness a state may still be answered while one caller recomputes it.
STATE_STALE_SECONDS = 30
T = TypeVar("T")


# --- the documents both paths read ------------------------------------------------------

@dataclass(frozen=True)
class Documents:
    """Everything the state is computed from, as the mirror's JSON documents."""

    counts: dict[str, int]
    newest: dict[str, list[dict[str, Any]]]  # status -> order documents, newest first
    total_orders: int
    orders_today: int
    orders_last_hour: int
    orders_by_hour: list[int]  # oldest hour first
    completed_today: int
    delivered_sample: list[dict[str, Any]]  # today's deliveries, latest first
    drivers: list[dict[str, Any]]  # driver documents, not offline, by name
    assignments: dict[str, dict[str, Any]]  # order id -> order document, for active drivers


@dataclass(frozen=True)
class Window:
    """The time bounds one computation uses, all derived from one ``now``."""

    now: datetime
    day_start: datetime
    hour_ago: datetime
    hours: list[datetime]  # start of each charted hour, oldest first

    @classmethod
    def at(cls, now: datetime) -> "Window":
        local = now.astimezone(ZoneInfo(settings.TIME_ZONE))
        day_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
        this_hour = local.replace(minute=0, second=0, microsecond=0)
        # Hour arithmetic in UTC: a local day can have 23 or 25 hours.
        hours = [(this_hour.astimezone(ZoneInfo("UTC")) - timedelta(hours=n)).astimezone(local.tzinfo)
                 for n in range(HOURS_CHARTED - 1, -1, -1)]
        return cls(now=now, day_start=day_start, hour_ago=now - timedelta(hours=1), hours=hours)

    def hour_bounds(self) -> list[tuple[datetime, datetime | None]]:
        """(start, end) of each charted hour; the current hour's end is None (it ends now)."""
        return list(zip(self.hours, [*self.hours[1:], None]))


def _epoch(value: datetime) -> float:
    return value.timestamp()


def _by_name(drivers: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(drivers, key=lambda d: (d["name"], d["id"]))


def _from_redis(client: redis.Redis, window: Window) -> Documents | None:
    """The documents from the mirror, or None when the mirror is not ready."""
    statuses = OrderStatus.values
    now = _epoch(window.now)
    # MULTI/EXEC: the counts and ids are read at one instant, between two published batches.
    with client.pipeline(transaction=True) as pipe:
        pipe.exists(mirror_ready_key())
        for status in statuses:
            pipe.zcard(key("m", "orders", "status", status))
            pipe.zrevrange(key("m", "orders", "status", status), 0, ORDERS_PER_STATUS - 1)
        pipe.zcard(key("m", "orders", "all"))
        pipe.zcount(key("m", "orders", "all"), _epoch(window.day_start), now)
        pipe.zcount(key("m", "orders", "all"), _epoch(window.hour_ago), now)
        for start, end in window.hour_bounds():
            # Each hour excludes its end, the current one ends now (inclusive).
            pipe.zcount(key("m", "orders", "all"), _epoch(start), f"({_epoch(end)}" if end else now)
        pipe.zcount(key("m", "orders", "delivered"), _epoch(window.day_start), now)
        pipe.zrevrangebyscore(key("m", "orders", "delivered"), now, _epoch(window.day_start),
                              start=0, num=DELIVERY_SAMPLE)
        pipe.smembers(key("m", "drivers", "all"))
        ready, *rest = pipe.execute()
    if not ready:
        return None
    counts, newest_ids = {}, {}
    for status in statuses:
        counts[status], newest_ids[status] = rest.pop(0), rest.pop(0)
    total, today, last_hour = rest[0], rest[1], rest[2]
    by_hour = rest[3:3 + HOURS_CHARTED]
    completed, delivered_ids, driver_ids = rest[3 + HOURS_CHARTED:]

    order_ids = list(dict.fromkeys([*(i for ids in newest_ids.values() for i in ids), *delivered_ids]))
    drivers_sorted = sorted(driver_ids, key=int)
    with client.pipeline(transaction=False) as pipe:
        for order_id in order_ids:
            pipe.hget(order_key(order_id), "doc")
        for driver_id in drivers_sorted:
            pipe.hget(driver_key(driver_id), "doc")
        raw = pipe.execute()
    docs = {order_id: json.loads(doc) for order_id, doc in zip(order_ids, raw) if doc}
    drivers = [json.loads(doc) for doc in raw[len(order_ids):] if doc]
    drivers = _by_name(d for d in drivers if d["status"] != Driver.Status.OFFLINE)

    wanted = [d["current_order_id"] for d in drivers if d["current_order_id"]]
    missing = [order_id for order_id in wanted if order_id not in docs]
    if missing:
        with client.pipeline(transaction=False) as pipe:
            for order_id in missing:
                pipe.hget(order_key(order_id), "doc")
            docs.update({order_id: json.loads(doc) for order_id, doc in zip(missing, pipe.execute()) if doc})
    return Documents(
        counts=counts,
        newest={status: [docs[i] for i in ids if i in docs] for status, ids in newest_ids.items()},
        total_orders=total, orders_today=today, orders_last_hour=last_hour, orders_by_hour=list(by_hour),
        completed_today=completed,
        delivered_sample=[docs[i] for i in delivered_ids if i in docs],
        drivers=drivers,
        assignments={i: docs[i] for i in wanted if i in docs},
    )


def _from_database(window: Window) -> Documents:
    orders = Order.objects.all()
    hour_filters = {
        f"h{n}": Count("pk", filter=Q(created_at__gte=start, created_at__lt=end) if end
                       else Q(created_at__gte=start, created_at__lte=window.now))
        for n, (start, end) in enumerate(window.hour_bounds())
    }
    figures = orders.aggregate(
        total=Count("pk"),
        today=Count("pk", filter=Q(created_at__gte=window.day_start, created_at__lte=window.now)),
        last_hour=Count("pk", filter=Q(created_at__gte=window.hour_ago, created_at__lte=window.now)),
        completed=Count("pk", filter=Q(delivered_at__gte=window.day_start, delivered_at__lte=window.now)),
        **hour_filters,
    )
    counts = dict.fromkeys(OrderStatus.values, 0)
    counts.update(orders.values_list("status").annotate(n=Count("pk")).order_by())
    newest = {}
    for status in OrderStatus.values:
        # Ties broken like a Redis ZREVRANGE: by member (the id), descending.
        found = order_queryset().filter(status=status).order_by("-created_at", "-id")[:ORDERS_PER_STATUS]
        newest[status] = [order_document(o) for o in found]
    delivered = (order_queryset().filter(delivered_at__gte=window.day_start, delivered_at__lte=window.now)
                 .order_by("-delivered_at", "-id")[:DELIVERY_SAMPLE])
    drivers = list(Driver.objects.exclude(status=Driver.Status.OFFLINE))
    active = active_orders_by_driver([d.id for d in drivers])
    assigned = order_queryset().filter(pk__in=[o.pk for o in active.values()])
    return Documents(
        counts=counts, newest=newest, total_orders=figures["total"], orders_today=figures["today"],
        orders_last_hour=figures["last_hour"],
        orders_by_hour=[figures[f"h{n}"] for n in range(HOURS_CHARTED)],
        completed_today=figures["completed"],
        delivered_sample=[order_document(o) for o in delivered],
        drivers=_by_name(driver_document(d, active.get(d.id)) for d in drivers),
        assignments={str(o.id): order_document(o) for o in assigned},
    )


# --- the figures, from the documents ---------------------------------------------------

def _at(value: str | None) -> datetime | None:
    return parse_datetime(value) if value else None


def _minutes_until(moment: datetime | None, now: datetime) -> float | None:
    return round(max(0.0, (moment - now).total_seconds() / 60), 1) if moment else None


def order_summary(doc: dict[str, Any]) -> dict[str, Any]:
    return {"id": doc["id"], "code": doc["code"], "status": doc["status"],
            "kitchen_status": doc["kitchen_status"], "restaurant": doc["restaurant"]["name"],
            "driver_id": doc["driver_id"], "created_at": doc["created_at"],
            "eta": doc["eta"]["estimated_arrival"]}


def delivery_figures(sample: list[dict[str, Any]]) -> dict[str, Any]:
    """Average delivery time, on-time rate and ETA accuracy over delivered order documents.

    ETA accuracy compares the arrival promised at dispatch with the real one (what the
    ``order.delivered`` event reports as ``eta_error_seconds``); positive errors are late."""
    durations, errors = [], []
    for doc in sample:
        placed, delivered = _at(doc["timestamps"]["placed"]), _at(doc["timestamps"]["delivered"])
        promised = _at(doc["eta"]["at_dispatch"])
        if placed and delivered:
            durations.append((delivered - placed).total_seconds())
        if promised and delivered:
            errors.append((delivered - promised).total_seconds())
    on_time = [e <= ON_TIME_GRACE.total_seconds() for e in errors]
    return {
        "average_delivery_minutes": round(fmean(durations) / 60, 1) if durations else None,
        "on_time_rate": round(sum(on_time) / len(on_time), 3) if on_time else None,
        "eta_accuracy": {
            "samples": len(errors),
            "mean_absolute_error_seconds": round(fmean(abs(e) for e in errors)) if errors else None,
            "mean_error_seconds": round(fmean(errors)) if errors else None,
        },
    }


def _assignment(doc: dict[str, Any] | None, now: datetime) -> dict[str, Any] | None:
    if doc is None:
        return None
    estimated = doc["eta"]["estimated_arrival"]
    return {"order_id": doc["id"], "code": doc["code"], "stage": doc["status"],
            "kitchen_status": doc["kitchen_status"], "restaurant": doc["restaurant"]["name"],
            "delivery_address": doc["delivery_address"]["text"], "estimated_arrival": estimated,
            "minutes_remaining": _minutes_until(_at(estimated), now)}


def _driver_entry(doc: dict[str, Any], assignments: dict[str, dict[str, Any]], now: datetime) -> dict[str, Any]:
    current = doc["current_order_id"]
    return {"id": doc["id"], "name": doc["name"], "vehicle": doc["vehicle"], "status": doc["status"],
            "location": doc["location"],
            "current_assignment": _assignment(assignments.get(current) if current else None, now)}


def state_from(docs: Documents, window: Window) -> dict[str, Any]:
    """Every figure of the state except health, generated_at and source."""
    drivers = [_driver_entry(d, docs.assignments, window.now) for d in docs.drivers]
    active = set(_active_statuses())
    return {
        "orders_by_status": {status: {"count": docs.counts.get(status, 0),
                                      "orders": [order_summary(d) for d in docs.newest.get(status, [])]}
                             for status in OrderStatus.values},
        "stats": {
            "total_orders": docs.total_orders,
            "active_orders": sum(n for s, n in docs.counts.items() if s in active),
            "active_deliveries": sum(docs.counts.get(s, 0) for s in ACTIVE_DELIVERY),
            "completed_today": docs.completed_today,
            "orders_today": docs.orders_today,
            "orders_per_hour": docs.orders_last_hour,
            "orders_by_hour": [{"hour": start.isoformat(), "count": n}
                               for start, n in zip(window.hours, docs.orders_by_hour)],
            **delivery_figures(docs.delivered_sample),
            "delivery_sample_size": len(docs.delivered_sample),
            "drivers_active": len(drivers),
            "drivers_available": sum(d["status"] == Driver.Status.AVAILABLE for d in drivers),
            "drivers_busy": sum(d["status"] == Driver.Status.BUSY for d in drivers),
            "time_zone": settings.TIME_ZONE,
        },
        "drivers": drivers,
    }


def system_state(*, now: datetime | None = None, use_mirror: bool = True) -> dict[str, Any]:
    """The whole state, now: from the mirror when it is ready, else from the database."""
    window = Window.at(now or timezone.now())
    docs, source = None, "database"
    if use_mirror:
        try:
            docs = _from_redis(get_redis(), window)
        except REDIS_ERRORS as exc:
            logger.info("system state from the database: Redis unavailable (%s)", exc)
        if docs is not None:
            source = "redis"
    if docs is None:
        docs = _from_database(window)
    return {"generated_at": timezone.now().isoformat(), **state_from(docs, window),
            "health": system_health(window.now), "source": source}


WAITING_STATUSES = (OrderStatus.PLACED, OrderStatus.CONFIRMED, OrderStatus.PREPARING, OrderStatus.READY)


def waiting_orders(*, limit: int = 8) -> list[dict[str, Any]]:
    """The orders waiting longest for a dispatcher, oldest first: not yet confirmed, or in the
    kitchen with no driver (an order with a driver has a delivery status instead)."""
    try:
        client = get_redis()
        with client.pipeline(transaction=True) as pipe:
            pipe.exists(mirror_ready_key())
            for status in WAITING_STATUSES:
                pipe.zrange(key("m", "orders", "status", status), 0, limit - 1, withscores=True)
            ready, *found = pipe.execute()
        if ready:
            # Oldest first; ties broken by id, as the database below does.
            oldest = sorted(((score, member) for members in found for member, score in members))[:limit]
            with client.pipeline(transaction=False) as pipe:
                for _, member in oldest:
                    pipe.hget(order_key(member), "doc")
                return [order_summary(json.loads(doc)) for doc in pipe.execute() if doc]
    except REDIS_ERRORS as exc:
        logger.info("waiting orders from the database: Redis unavailable (%s)", exc)
    found = order_queryset().filter(status__in=WAITING_STATUSES).order_by("created_at", "id")[:limit]
    return [order_summary(order_document(order)) for order in found]


# --- computed once per period, whoever asks ----------------------------------------------

_local_locks: dict[str, threading.Lock] = {}
_local_locks_guard = threading.Lock()
LOCK_SECONDS = 10  # longer than any computation; a crashed holder frees it by then
WAIT_SECONDS = 3.0


def _local_lock(name: str) -> threading.Lock:
    with _local_locks_guard:
        return _local_locks.setdefault(name, threading.Lock())


def compute_once(name: str, compute: Callable[[], T], *, seconds: float,
                 fresh: Callable[[T], bool] = lambda value: True, serve_stale: bool = False) -> T:
    """``compute()``'s value, cached ``seconds`` in django-redis and computed by one caller at
    a time across every process (a Redis lock; the others wait for its value, then read it).

    With ``serve_stale``, a cached value that is no longer ``fresh`` is answered at once to
    every caller but the one that takes the lock and recomputes it: under load nobody else
    queues behind the computation (at 300 req/s it was the whole p99 of ``/api/state``).

    While Redis is down the value is cached in process memory instead, computed by one
    thread at a time per process: degraded, the database still is not stampeded."""
    shared = caches["default"]
    value = shared.get(name)
    if value is not None and fresh(value):
        return value
    stale = value if serve_stale else None
    try:
        lock = shared.lock(f"{name}:lock", timeout=LOCK_SECONDS, sleep=0.02, blocking_timeout=WAIT_SECONDS)
        if lock is None:  # django-redis swallowed a connection error
            raise redis.ConnectionError("no Redis for the cache lock")
        acquired = lock.acquire(blocking=stale is None)
    except REDIS_ERRORS:
        return _compute_once_locally(name, compute, seconds=seconds, fresh=fresh)
    if not acquired:
        if stale is not None:  # someone is recomputing it
            return stale
        return compute()  # the holder is stuck: answer anyway rather than keep the caller waiting
    try:
        value = shared.get(name)  # the previous holder may have just computed it
        if value is None or not fresh(value):
            value = compute()
            shared.set(name, value, timeout=seconds)
        return value
    finally:
        try:
            lock.release()
        except (redis.exceptions.LockError, *REDIS_ERRORS):
            pass  # expired or Redis went away: either way, nothing left to release


def _compute_once_locally(name: str, compute: Callable[[], T], *, seconds: float,
                          fresh: Callable[[T], bool]) -> T:
    local = caches["local"]
    with _local_lock(name):
        value = local.get(name)
        if value is None or not fresh(value):
            value = compute()
            local.set(name, value, timeout=seconds)
        return value


def cached_system_state() -> bytes:
    """What ``/api/state`` answers, as JSON bytes: computed and rendered at most once per
    ``STATE_CACHE_SECONDS`` over every process, and never waited for by more than the one
    caller computing it (the others answer the previous value meanwhile). While the relay
    runs, it recomputes the state before it goes stale (``keep_state_warm``), so requests
    find it fresh and no server process spends its time (and its GIL) computing it.

    Caching the rendered bytes spares each hit unpickling and re-rendering the whole state:
    ~8 ms a request (make bench)."""
    _note_state_wanted()
    _fresh_until, body = _shared_state(fresh=lambda value: value[0] > time.time())
    return body


def _shared_state(*, fresh: Callable[[tuple[float, bytes]], bool]) -> tuple[float, bytes]:
    """The cached (fresh until, JSON) pair, recomputed by one caller once ``fresh`` says no."""
    return compute_once(STATE_CACHE_KEY, render_system_state,
                        seconds=settings.STATE_CACHE_SECONDS + STATE_STALE_SECONDS, fresh=fresh, serve_stale=True)


def render_system_state() -> tuple[float, bytes]:
    """The rendered state and when it stops being fresh (epoch seconds, shared by processes)."""
    body = JSONRenderer().render(system_state())
    return time.time() + settings.STATE_CACHE_SECONDS, body


# Someone asked for the state lately: the relay keeps it warm while this key lives.
STATE_WANTED_SECONDS = 60
STATE_WANTED_NOTE_EVERY = 10.0  # each process renews the key at most this often
STATE_WARM_AHEAD_SECONDS = 1.5  # recompute this long before the cached state goes stale
_wanted_noted_at = float("-inf")


def _state_wanted_key() -> str:
    return key("statedash", "state-wanted")


def _note_state_wanted() -> None:
    global _wanted_noted_at
    now = time.monotonic()
    if now - _wanted_noted_at < STATE_WANTED_NOTE_EVERY:
        return
    _wanted_noted_at = now
    try:
        get_redis().set(_state_wanted_key(), "1", ex=STATE_WANTED_SECONDS)
    except REDIS_ERRORS:
        pass  # without Redis there is no shared cache to keep warm either


def keep_state_warm() -> None:
    """Run by the relay after each pass: recompute the cached state shortly before it goes
    stale, while ``/api/state`` was asked for in the last minute."""
    if get_redis().exists(_state_wanted_key()):
        _shared_state(fresh=lambda value: value[0] - time.time() > STATE_WARM_AHEAD_SECONDS)


# --- the event feed ------------------------------------------------------------------------

# Position reports arrive every few seconds per driver; in the feed they would drown every
# order event. The ETA moves they cause stay visible on the deliveries panel.
FEED_HIDDEN_TYPES = ("driver.location_updated",)
FEED_HIDDEN_ETA_REASON = "driver moved"
FEED_LENGTH = 40


def feed_worthy(event: Any) -> bool:
    if event.type in FEED_HIDDEN_TYPES:
        return False
    return not (event.type == "delivery.eta_updated" and event.payload.get("reason") == FEED_HIDDEN_ETA_REASON)


def feed_events(*, limit: int = FEED_LENGTH) -> list[Event]:
    """The latest events a dispatcher cares about, newest first."""
    events = (Event.objects.exclude(type__in=FEED_HIDDEN_TYPES)
              .exclude(type="delivery.eta_updated", payload__reason=FEED_HIDDEN_ETA_REASON)
              .order_by("-seq"))
    return list(events[:limit])


def batch_events(correlation_id: str) -> list[Event]:
    """Every event carrying that correlation id (one request's batches), oldest first."""
    return list(event_list(correlation_id=correlation_id)[:500])


def latest_event_seq() -> int:
    """The last event the readers can see: in the stream while the mirror answers, else in the
    database (the two differ only while a batch waits in the outbox)."""
    try:
        client = get_redis()
        if client.exists(mirror_ready_key()):
            return last_stream_seq(client)
    except REDIS_ERRORS:
        pass
    return Event.objects.order_by("-seq").values_list("seq", flat=True).first() or 0


def order_codes(order_ids: Iterable[Any]) -> dict[str, str]:
    ids = {str(i) for i in order_ids if i}
    return {str(pk): code for pk, code in Order.objects.filter(pk__in=ids).values_list("pk", "code")} if ids else {}


def driver_names(driver_ids: Iterable[Any]) -> dict[int, str]:
    ids = {int(i) for i in driver_ids if i is not None}
    return dict(Driver.objects.filter(pk__in=ids).values_list("pk", "name")) if ids else {}
