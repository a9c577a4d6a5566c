"""The system state: orders by status, stats, active drivers, health.

Computed from the Redis mirror (``pizzadelivery.mirror``) while it is ready, from the
database otherwise; both paths produce the same order and driver documents, and every
figure below is computed by the same functions from those documents, so the two paths give
the same numbers on the same data (``source`` says which one answered). Selectors only read:
caching the state is ``statedash.state_cache``, keeping it warm ``statedash.warmup``.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import fmean
from typing import Any
from zoneinfo import ZoneInfo

import redis
from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from events.models import Event
from events.publisher import last_stream_seq
from events.selectors import event_list
from pizzadelivery.infra.redis import REDIS_ERRORS, get_redis
from pizzadelivery.lifecycle import ACTIVE, ON_THE_ROAD, OrderStatus
from pizzadelivery.mirror import readers
from pizzadelivery.mirror.documents import driver_document, order_document
from pizzadelivery.mirror.readers import Overview, by_name, overview
from pizzadelivery.models import Driver, Order
from pizzadelivery.selectors import active_orders_by_driver, order_queryset
from statedash.health import system_health

logger = logging.getLogger(__name__)

ORDERS_PER_STATUS = 10
HOURS_CHARTED = 12
# Delivery-time figures are over today's deliveries, the latest ones first, at most this many.
DELIVERY_SAMPLE = 500
# Delivered no later than the ETA promised at dispatch plus this grace counts as on time.
ON_TIME_GRACE = timedelta(minutes=2)


# --- the overview both paths read -------------------------------------------------------

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


def _from_redis(client: redis.Redis, window: Window) -> Overview | None:
    """The overview from the mirror, or None when the mirror is not ready."""
    return overview(now=window.now, day_start=window.day_start, hour_ago=window.hour_ago,
                    hours=window.hour_bounds(), per_status=ORDERS_PER_STATUS, sample=DELIVERY_SAMPLE, client=client)


def _from_database(window: Window) -> Overview:
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
    return Overview(
        counts=counts, newest=newest, total_orders=figures["total"], orders_today=figures["today"],
        orders_last_hour=figures["last_hour"],
        orders_by_hour=[figures[f"h{n}"] for n in range(HOURS_CHARTED)],
        completed_today=figures["completed"],
        delivered_sample=[order_document(o) for o in delivered],
        drivers=by_name([driver_document(d, active.get(d.id)) for d in drivers]),
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
            "minutes_remaining": _minutes_until(_at(estimated), now),
            "restaurant_location": doc["restaurant"]["location"],
            "destination": {"lat": doc["delivery_address"]["lat"], "lng": doc["delivery_address"]["lng"]}}


def _driver_entry(doc: dict[str, Any], assignments: dict[str, dict[str, Any]], now: datetime) -> dict[str, Any]:
    current = doc["current_order_id"]
    return {"id": doc["id"], "name": doc["name"], "vehicle": doc["vehicle"], "status": doc["status"],
            "location": doc["location"],
            "current_assignment": _assignment(assignments.get(current) if current else None, now)}


def state_from(docs: Overview, window: Window) -> dict[str, Any]:
    """Every figure of the state except health, generated_at and source."""
    drivers = [_driver_entry(d, docs.assignments, window.now) for d in docs.drivers]
    active = set(ACTIVE)
    return {
        "orders_by_status": {status: {"count": docs.counts.get(status, 0),
                                      "orders": [order_summary(d) for d in docs.newest.get(status, [])]}
                             for status in OrderStatus.values},
        "stats": {
            "total_orders": docs.total_orders,
            "active_orders": sum(n for s, n in docs.counts.items() if s in active),
            "active_deliveries": sum(docs.counts.get(s, 0) for s in ON_THE_ROAD),
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


# Orders a dispatcher can send a driver for: confirmed by the kitchen, no driver yet.
TO_DISPATCH = (OrderStatus.CONFIRMED, OrderStatus.PREPARING, OrderStatus.READY)


def waiting_orders(*, limit: int = 8, statuses: tuple[str, ...] = TO_DISPATCH) -> list[dict[str, Any]]:
    """The orders waiting longest for a driver, oldest first (an order with a driver has a
    delivery status instead, so these are in the kitchen or ready)."""
    try:
        found = readers.oldest_with_status(statuses, limit=limit)
        if found is not None:
            return [order_summary(doc) for doc in found]
    except REDIS_ERRORS as exc:
        logger.info("waiting orders from the database: Redis unavailable (%s)", exc)
    orders = order_queryset().filter(status__in=statuses).order_by("created_at", "id")[:limit]
    return [order_summary(order_document(order)) for order in orders]


# --- alerts: what needs a dispatcher now -------------------------------------------------------

@dataclass(frozen=True)
class Alert:
    kind: str  # late, ready_no_driver, stationary, unconfirmed
    order_id: str
    code: str
    title: str  # lazy: in the language the dashboard renders it in
    detail: str
    minutes: int  # how long it has been so
    tone: str


def _minutes_since(moment: datetime, now: datetime) -> int:
    return max(0, int((now - moment).total_seconds() // 60))


def alerts(*, now: datetime | None = None) -> list[Alert]:
    """Orders and drivers a dispatcher should look at, worst first. Each is a state that ends
    by itself once handled (dispatched, picked up, moving again, confirmed), so an alert
    disappears when its cause does. Thresholds are settings (``ALERT_*_MINUTES``)."""
    now = now or timezone.now()
    found: list[Alert] = []
    late = timedelta(minutes=settings.ALERT_LATE_MINUTES)
    for order in (Order.objects.select_related("restaurant", "driver")
                  .filter(delivery_status__in=ON_THE_ROAD, eta_at_dispatch__isnull=False)):
        expected = max(now, order.eta_at or now)
        if expected - order.eta_at_dispatch >= late:
            behind = _minutes_since(order.eta_at_dispatch, expected)
            found.append(Alert("late", str(order.id), order.code, format_lazy(_("{minutes} min late"), minutes=behind),
                               format_lazy(_("promised {promised}, now expected {expected}"),
                                           promised=f"{timezone.localtime(order.eta_at_dispatch):%H:%M}",
                                           expected=f"{timezone.localtime(expected):%H:%M}"), behind, "bad"))
        driver = order.driver
        still_since = (driver.moved_at or driver.location_updated_at) if driver else None
        if still_since and now - still_since >= timedelta(minutes=settings.ALERT_STATIONARY_MINUTES):
            minutes = _minutes_since(still_since, now)
            found.append(Alert("stationary", str(order.id), order.code,
                               format_lazy(_("{driver} not moving"), driver=driver.name),
                               format_lazy(_("no movement for {minutes} min on this delivery"), minutes=minutes),
                               minutes, "warn"))
    waiting = timedelta(minutes=settings.ALERT_READY_NO_DRIVER_MINUTES)
    for order in Order.objects.select_related("restaurant").filter(
            kitchen_status=OrderStatus.READY, delivery_status="", cancelled_at__isnull=True,
            ready_at__lte=now - waiting):
        minutes = _minutes_since(order.ready_at, now)
        found.append(Alert("ready_no_driver", str(order.id), order.code, _("Ready, no driver"),
                           format_lazy(_("boxed at {pizzeria} for {minutes} min"), pizzeria=order.restaurant.name,
                                       minutes=minutes), minutes, "bad"))
    for order in Order.objects.select_related("restaurant").filter(
            status=OrderStatus.PLACED, placed_at__lte=now - timedelta(minutes=settings.ALERT_UNCONFIRMED_MINUTES)):
        minutes = _minutes_since(order.placed_at, now)
        found.append(Alert("unconfirmed", str(order.id), order.code, _("Not confirmed"),
                           format_lazy(_("{pizzeria} has not confirmed it in {minutes} min"),
                                       pizzeria=order.restaurant.name, minutes=minutes), minutes, "warn"))
    severity = {"late": 0, "ready_no_driver": 1, "stationary": 2, "unconfirmed": 3}
    return sorted(found, key=lambda a: (severity[a.kind], -a.minutes, a.code))


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
        if readers.is_ready(client):
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
