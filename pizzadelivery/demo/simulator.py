"""The living demo: kitchens move orders along, drivers ride street-grid routes at city speeds
and report positions, customers order now and then.

Its decisions are small pure functions (routes, kitchen timing, arrivals) driven by
``Simulator.tick``, which acts only through the services, exactly like the API would.

It shares the city with people: what a person or an integrator does (through the API, the
admin, the dashboard; anything but a customer's checkout) marks the order or driver it touched,
and the simulator leaves those alone for ``HANDS_OFF_S`` after the latest touch. It tells its
own changes from theirs by their correlation ids (``sim-...``).
"""
from __future__ import annotations

import math
import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from events.models import Event
from events.services import correlation_scope
from pizzadelivery import services
from pizzadelivery.demo.seed import draft_order, place
from pizzadelivery.eta import haversine_m
from pizzadelivery.geocoding import stable_fractions
from pizzadelivery.infra.errors import DomainError
from pizzadelivery.lifecycle import CancelReason, OrderStatus
from pizzadelivery.mirror.readers import nearest_available_driver_ids
from pizzadelivery.models import Driver, MenuItem, Order, Restaurant
from pizzadelivery.storefront.cart import CHECKOUT_CORRELATION_PREFIX


@dataclass(frozen=True)
class Point:
    lat: float
    lng: float


def distance_m(a: Point, b: Point) -> float:
    return haversine_m(a.lat, a.lng, b.lat, b.lng)


def bearing(a: Point, b: Point) -> float:
    """Compass heading from a to b, degrees in [0, 360)."""
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dl = math.radians(b.lng - a.lng)
    y = math.sin(dl) * math.cos(p2)
    x = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return round(math.degrees(math.atan2(y, x)) % 360, 1) % 360


def _split(total: float, parts: int, rng: random.Random) -> list[float]:
    weights = [rng.uniform(0.5, 1.5) for _ in range(parts)]
    scale = total / sum(weights)
    return [w * scale for w in weights]


def plan_route(start: Point, end: Point, rng: random.Random) -> list[Point]:
    """A street-grid route: alternating north-south and east-west runs with a few turns,
    like a driver zig-zagging through city blocks (never a straight line through houses)."""
    blocks = 1 if distance_m(start, end) < 400 else rng.randint(2, 3)
    lat_steps, lng_steps = _split(end.lat - start.lat, blocks, rng), _split(end.lng - start.lng, blocks, rng)
    lat_first = rng.random() < 0.5
    points = [start]
    lat, lng = start.lat, start.lng
    for n, (d_lat, d_lng) in enumerate(zip(lat_steps, lng_steps)):
        last = n == blocks - 1  # land exactly on the door, no floating-point drift
        next_lat, next_lng = (end.lat, end.lng) if last else (lat + d_lat, lng + d_lng)
        points.append(Point(next_lat, lng) if lat_first else Point(lat, next_lng))
        lat, lng = next_lat, next_lng
        points.append(Point(lat, lng))
    route = [start]
    for corner in points[1:-1]:
        if distance_m(route[-1], corner) > 1:  # skip zero-length legs
            route.append(corner)
    if len(route) > 1 and distance_m(route[-1], end) <= 1:
        route[-1] = end
    else:
        route.append(end)
    return route


@dataclass
class Route:
    points: list[Point]
    travelled_m: float = 0.0

    @property
    def length_m(self) -> float:
        return sum(distance_m(a, b) for a, b in zip(self.points, self.points[1:]))

    @property
    def arrived(self) -> bool:
        return self.travelled_m >= self.length_m - 0.5

    def advance(self, meters: float) -> tuple[Point, float]:
        """Move ``meters`` further along; the new position and the heading there."""
        self.travelled_m = min(self.length_m, self.travelled_m + max(0.0, meters))
        remaining = self.travelled_m
        for a, b in zip(self.points, self.points[1:]):
            leg = distance_m(a, b)
            if remaining <= leg and leg > 0:
                f = remaining / leg
                return Point(a.lat + (b.lat - a.lat) * f, a.lng + (b.lng - a.lng) * f), bearing(a, b)
            remaining -= leg
        last_leg = (self.points[-2], self.points[-1])
        return self.points[-1], bearing(*last_leg)


# Typical city speeds (km/h) by vehicle; each driver keeps a speed of their own in the range.
VEHICLE_SPEED_KMH: dict[str, tuple[float, float]] = {
    Driver.Vehicle.BIKE: (15, 19), Driver.Vehicle.EBIKE: (18, 24),
    Driver.Vehicle.SCOOTER: (22, 28), Driver.Vehicle.CAR: (20, 30),
}


def cruising_speed_kmh(driver_id: int, vehicle: str) -> float:
    low, high = VEHICLE_SPEED_KMH.get(vehicle, (15, 25))
    (f,) = stable_fractions(f"driver|{driver_id}", 1)
    return round(low + (high - low) * f, 1)


# Simulated seconds a kitchen takes for each step (before a per-order spread of ±30 %).
KITCHEN_SECONDS = {OrderStatus.CONFIRMED: 45, OrderStatus.PREPARING: 75}
KITCHEN_AFTER = {OrderStatus.CONFIRMED: "placed_at", OrderStatus.PREPARING: "confirmed_at",
                 OrderStatus.READY: "preparing_at"}
NEXT_KITCHEN_STEP = {OrderStatus.PLACED: OrderStatus.CONFIRMED, OrderStatus.CONFIRMED: OrderStatus.PREPARING,
                     OrderStatus.PREPARING: OrderStatus.READY}


def spread(order_id: uuid.UUID | str, stage: str) -> float:
    """A per-order, per-stage factor in [0.7, 1.3]: kitchens are not metronomes, but the same
    order always takes the same time (the simulator may restart)."""
    (f,) = stable_fractions(f"{order_id}|{stage}", 1)
    return 0.7 + 0.6 * f


def kitchen_step_due(order: Order, *, now: datetime, speedup: float) -> str | None:
    """The kitchen step this order is due for now, if any."""
    if order.status == OrderStatus.CANCELLED or order.kitchen_status not in NEXT_KITCHEN_STEP:
        return None
    step = NEXT_KITCHEN_STEP[order.kitchen_status]
    since = getattr(order, KITCHEN_AFTER[step])
    if since is None:
        return None
    base = order.restaurant.prep_minutes * 60 if step == OrderStatus.READY else KITCHEN_SECONDS[step]
    elapsed = (now - since).total_seconds() * speedup
    return step if elapsed >= base * spread(order.id, step) else None


DISPATCH_LEAD_S = 5 * 60  # about a typical ride to the shop


def kitchen_seconds_left(order: Order, *, now: datetime, speedup: float) -> float | None:
    """Simulated seconds until the pizza comes out of the oven (None before it goes in)."""
    if order.kitchen_status == OrderStatus.READY:
        return 0.0
    if order.kitchen_status != OrderStatus.PREPARING or order.preparing_at is None:
        return None
    prep = order.restaurant.prep_minutes * 60 * spread(order.id, OrderStatus.READY)
    return max(0.0, prep - (now - order.preparing_at).total_seconds() * speedup)


def wants_driver(order: Order, *, now: datetime, speedup: float) -> bool:
    """Send a driver while the pizza is still in the oven, timed so that they arrive about
    when it comes out: not earlier, or they would idle at the counter."""
    if order.delivery_status or order.status == OrderStatus.CANCELLED:
        return False
    left = kitchen_seconds_left(order, now=now, speedup=speedup)
    return left is not None and left <= DISPATCH_LEAD_S


def arrivals(rng: random.Random, *, per_minute: float, seconds: float) -> int:
    """How many new orders arrive in ``seconds`` (a Poisson process)."""
    expected, count, threshold = per_minute * seconds / 60, 0, 1.0
    limit = math.exp(-expected)
    while True:
        threshold *= rng.random()
        if threshold <= limit:
            return count
        count += 1


# --- sharing the city with people ----------------------------------------------------------

SIMULATOR_CORRELATION_PREFIX = "sim-"
HANDS_OFF_S = 5 * 60
# What a person does to a driver (a driver app reporting, a shift, a profile edit); being
# assigned or released by someone's order change is not driving them.
DRIVER_TOUCHES = ("driver.location_updated", "driver.status_changed", "driver.profile_updated")


@contextmanager
def acting_as_simulator() -> Iterator[str]:
    """The simulator's changes carry correlation ids of their own: one per change."""
    with correlation_scope(f"{SIMULATOR_CORRELATION_PREFIX}{uuid.uuid4().hex}") as correlation_id:
        yield correlation_id


def by_a_person(event: Event) -> bool:
    """Whether a person or an integrator made this change (not the simulator, and not a
    customer placing an order in the storefront: the demo's kitchens serve those; nor
    auto-dispatch, which the simulator's drivers follow like any dispatch)."""
    if event.correlation_id.startswith((SIMULATOR_CORRELATION_PREFIX, services.AUTO_DISPATCH_CORRELATION_PREFIX)):
        return False
    return not (event.type == "order.placed" and event.correlation_id.startswith(CHECKOUT_CORRELATION_PREFIX))


@dataclass
class PeopleWatch:
    """The orders and drivers people touched since the simulator started, and when last,
    followed through the event log by sequence number."""

    after_seq: int | None = None
    orders: dict[uuid.UUID, datetime] = field(default_factory=dict)
    drivers: dict[int, datetime] = field(default_factory=dict)

    def catch_up(self) -> None:
        if self.after_seq is None:  # what happened before the simulator started is nobody's hands-on
            self.after_seq = Event.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
            return
        while True:
            events = list(Event.objects.filter(seq__gt=self.after_seq).order_by("seq")
                          .only("seq", "type", "correlation_id", "order_id", "driver_id", "occurred_at")[:2000])
            for event in events:
                if by_a_person(event):
                    if event.order_id is not None:
                        self.orders[event.order_id] = event.occurred_at
                    if event.driver_id is not None and event.type in DRIVER_TOUCHES:
                        self.drivers[event.driver_id] = event.occurred_at
            if not events:
                return
            self.after_seq = events[-1].seq

    def held(self, *, now: datetime, seconds: float) -> tuple[set[uuid.UUID], set[int]]:
        """The orders and drivers touched within ``seconds`` before ``now``."""
        since = now - timedelta(seconds=seconds)
        for touched in (self.orders, self.drivers):
            for key in [key for key, at in touched.items() if at < since]:
                del touched[key]
        return set(self.orders), set(self.drivers)


# --- the simulator: acting through the services ------------------------------------------

@dataclass
class Leg:
    """Where a driver is heading and why: to the shop or customer of ``order_id``, or back
    towards a pizzeria to wait for the next job (``order_id`` None)."""
    purpose: tuple[str, str]
    route: Route
    order_id: uuid.UUID | None = None


@dataclass
class TickReport:
    kitchen: list[str] = field(default_factory=list)
    dispatched: list[str] = field(default_factory=list)
    picked_up: list[str] = field(default_factory=list)
    delivered: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    placed: list[str] = field(default_factory=list)
    shifts: list[str] = field(default_factory=list)
    location_reports: int = 0
    refusals: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{name} {len(value)}" for name, value in vars(self).items()
                 if isinstance(value, list) and value and name != "refusals"]
        if self.location_reports:
            parts.append(f"locations {self.location_reports}")
        return ", ".join(parts) or "idle"


class Simulator:
    """One city's worth of kitchens, drivers and hungry customers, one tick at a time.

    The database is the truth: each tick reads the orders and drivers as they are (the admin,
    the API or the storefront may have moved them) and acts through the services. Only the
    drivers' planned routes live in memory; after a restart they are planned again from where
    each driver last reported.
    """

    CITY_SPEED_KMH = (15.0, 30.0)  # whatever the vehicle and the traffic
    REPORT_EVERY_S = 4.0         # a driver app reports every few seconds, not every tick
    MAX_WAITING = 6              # no new customers while this many orders wait for a driver
    MAX_ACTIVE = 30              # ... or while this many are on their way at all
    GIVE_UP_AFTER_S = 25 * 60    # a kitchen cancels an order no driver took for this long
    SHIFT_CHANGE_EVERY_S = 120   # someone goes on or off shift about this often
    MIN_ON_SHIFT = 6
    ON_SHIFT_SHARE = 0.8

    def __init__(self, *, speedup: float = 1.0, orders_per_minute: float = 1.5,
                 rng: random.Random | None = None) -> None:
        self.speedup = speedup
        self.orders_per_minute = orders_per_minute
        self.rng = rng or random.Random()
        self.legs: dict[int, Leg] = {}
        self.last_report: dict[int, float] = {}
        self.clock = 0.0  # simulated seconds since start
        self.people = PeopleWatch()
        self.held_orders: set[uuid.UUID] = set()
        self.held_drivers: set[int] = set()

    # each step catches the refusals a concurrent admin or API call can cause and moves on
    def _transition(self, report: TickReport, order: Order, to: str, **kwargs: Any) -> Order | None:
        try:
            with acting_as_simulator():
                return services.order_transition(order_id=order.id, to=to, **kwargs)
        except DomainError as exc:
            report.refusals.append(f"{order.code} -> {to}: {exc.detail}")
            return None

    def _active_orders(self) -> list[Order]:
        return list(Order.objects.select_related("restaurant", "driver")
                    .exclude(status__in=[OrderStatus.DELIVERED, OrderStatus.CANCELLED])
                    .order_by("placed_at"))

    def tick(self, *, now: datetime, seconds: float) -> TickReport:
        """Advance the city by ``seconds`` of real time (times ``speedup`` simulated)."""
        report = TickReport()
        self.people.catch_up()
        self.held_orders, self.held_drivers = self.people.held(now=now, seconds=HANDS_OFF_S)
        simulated = seconds * self.speedup
        self.clock += simulated
        self._kitchens(report, now)
        self._dispatch(report, now)
        self._drive(report, simulated)
        self._shifts(report, simulated)
        self._customers(report, now, simulated)
        return report

    def _kitchens(self, report: TickReport, now: datetime) -> None:
        for order in self._active_orders():
            if order.id in self.held_orders:
                continue
            step = kitchen_step_due(order, now=now, speedup=self.speedup)
            if step and self._transition(report, order, step):
                report.kitchen.append(f"{order.code} {step}")

    def _dispatch(self, report: TickReport, now: datetime) -> None:
        for order in self._active_orders():
            if order.id in self.held_orders or not wants_driver(order, now=now, speedup=self.speedup):
                continue
            driver_id = self._free_driver(order)
            if driver_id is not None and self._transition(report, order, OrderStatus.DISPATCHED, driver_id=driver_id):
                report.dispatched.append(order.code)
            elif (order.kitchen_status == OrderStatus.READY and order.ready_at
                  and (now - order.ready_at).total_seconds() * self.speedup > self.GIVE_UP_AFTER_S):
                if self._transition(report, order, OrderStatus.CANCELLED, reason_code=CancelReason.NO_DRIVER,
                                    reason="No driver was free; the customer was refunded."):
                    report.cancelled.append(order.code)

    def _free_driver(self, order: Order) -> int | None:
        """The nearest available driver nobody is driving by hand."""
        candidates = nearest_available_driver_ids(lat=float(order.restaurant.lat), lng=float(order.restaurant.lng),
                                                  limit=10 + len(self.held_drivers))
        return next((driver_id for driver_id in candidates if driver_id not in self.held_drivers), None)

    def _target(self, order: Order) -> tuple[tuple[str, str], Point]:
        if order.delivery_status == OrderStatus.OUT_FOR_DELIVERY:
            return (str(order.id), "customer"), Point(float(order.delivery_lat), float(order.delivery_lng))
        return (str(order.id), "shop"), Point(float(order.restaurant.lat), float(order.restaurant.lng))

    def _position(self, driver: Driver, fallback: Point) -> Point:
        if driver.lat is None or driver.lng is None:
            return fallback
        return Point(float(driver.lat), float(driver.lng))

    def _speed(self, driver: Driver, *, relaxed: bool) -> float:
        """This tick's speed: the driver's own pace, traffic, and no hurry without a pizza."""
        factor = self.rng.uniform(0.7, 0.85) if relaxed else self.rng.uniform(0.85, 1.1)
        low, high = self.CITY_SPEED_KMH
        return round(min(high, max(low, cruising_speed_kmh(driver.id, driver.vehicle) * factor)), 1)

    def _drive(self, report: TickReport, simulated: float) -> None:
        drivers = [driver for driver in Driver.objects.exclude(status=Driver.Status.OFFLINE)
                   if driver.id not in self.held_drivers]
        jobs = {order.driver_id: order for order in self._active_orders()
                if order.delivery_status in (OrderStatus.DISPATCHED, OrderStatus.OUT_FOR_DELIVERY)}
        for gone_off_shift in set(self.legs) - {driver.id for driver in drivers}:
            del self.legs[gone_off_shift]
        for driver in drivers:
            order = jobs.get(driver.id)
            leg = self.legs.get(driver.id)
            if order is not None:
                self._drive_job(report, driver, order, simulated)
            elif driver.status == Driver.Status.AVAILABLE and leg is not None:
                if leg.order_id is not None:  # the job ended elsewhere (cancelled in the admin, say)
                    self._head_back(driver, leg.route.advance(0)[0])
                self._drive_home(report, driver, simulated)
            else:
                self.legs.pop(driver.id, None)

    def _move(self, report: TickReport, driver: Driver, leg: Leg, meters: float, speed_kmh: float) -> bool:
        """Move the driver along the leg; report the position (throttled); True on arrival."""
        if leg.route.arrived:
            return True
        position, heading = leg.route.advance(meters)
        arrived = leg.route.arrived
        due = self.clock - self.last_report.get(driver.id, -math.inf) >= self.REPORT_EVERY_S * self.speedup
        if due or arrived:
            with acting_as_simulator():
                services.driver_location_update(driver_id=driver.id, lat=position.lat, lng=position.lng,
                                                heading=heading, speed_kmh=0.0 if arrived else speed_kmh)
            self.last_report[driver.id] = self.clock
            report.location_reports += 1
        return arrived

    def _drive_job(self, report: TickReport, driver: Driver, order: Order, simulated: float) -> None:
        purpose, target = self._target(order)
        leg = self.legs.get(driver.id)
        if leg is None or leg.purpose != purpose:
            # Mid-route (say, heading back when a new job comes in) the leg knows best where
            # the driver is; the last report may be a few seconds old.
            start = (leg.route.advance(0)[0] if leg is not None else
                     self._position(driver, fallback=Point(float(order.restaurant.lat), float(order.restaurant.lng))))
            leg = Leg(purpose, Route(plan_route(start, target, self.rng)), order.id)
            self.legs[driver.id] = leg
        speed = self._speed(driver, relaxed=False)
        if not self._move(report, driver, leg, speed / 3.6 * simulated, speed) or order.id in self.held_orders:
            return  # on the way; or a person moves this order on (the driver waits for them)
        if purpose[1] == "shop":
            if order.kitchen_status == OrderStatus.READY:
                if self._transition(report, order, OrderStatus.OUT_FOR_DELIVERY):
                    report.picked_up.append(order.code)
        elif self._transition(report, order, OrderStatus.DELIVERED, pin=order.delivery_pin):  # asked at the door
            report.delivered.append(order.code)
            self._head_back(driver, target)

    def _head_back(self, driver: Driver, here: Point) -> None:
        """After a delivery, ride back towards the nearest open pizzeria to wait there."""
        shops = [Point(float(lat), float(lng)) for lat, lng in
                 Restaurant.objects.filter(is_open=True).values_list("lat", "lng")]
        if not shops:
            self.legs.pop(driver.id, None)
            return
        shop = min(shops, key=lambda p: distance_m(here, p))
        # Park around the corner, not in the kitchen.
        wait_at = Point(shop.lat + self.rng.uniform(-0.002, 0.002), shop.lng + self.rng.uniform(-0.003, 0.003))
        self.legs[driver.id] = Leg(("home", str(driver.id)), Route(plan_route(here, wait_at, self.rng)))

    def _drive_home(self, report: TickReport, driver: Driver, simulated: float) -> None:
        leg = self.legs.get(driver.id)
        if leg is None:
            return
        speed = self._speed(driver, relaxed=True)
        if self._move(report, driver, leg, speed / 3.6 * simulated, speed):
            self.legs.pop(driver.id, None)

    def _shifts(self, report: TickReport, simulated: float) -> None:
        """Now and then someone starts or ends a shift, keeping about ON_SHIFT_SHARE of the
        fleet on the road (never fewer than MIN_ON_SHIFT)."""
        if self.rng.random() >= simulated / self.SHIFT_CHANGE_EVERY_S:
            return
        drivers = [driver for driver in Driver.objects.all() if driver.id not in self.held_drivers]
        idle = [d for d in drivers if d.status == Driver.Status.AVAILABLE and d.id not in self.legs]
        offline = [d for d in drivers if d.status == Driver.Status.OFFLINE]
        on_shift = len(drivers) - len(offline)
        crowded = on_shift > max(self.MIN_ON_SHIFT, self.ON_SHIFT_SHARE * len(drivers))
        going_off = bool(idle) and on_shift > self.MIN_ON_SHIFT and (
            not offline or self.rng.random() < (0.7 if crowded else 0.3))
        if going_off:
            driver, status = self.rng.choice(idle), Driver.Status.OFFLINE
        elif offline:
            driver, status = self.rng.choice(offline), Driver.Status.AVAILABLE
        else:
            return
        try:
            with acting_as_simulator():
                services.driver_set_status(driver_id=driver.id, status=status)
            report.shifts.append(f"{driver.name} {status}")
        except DomainError as exc:
            report.refusals.append(f"{driver.name} -> {status}: {exc.detail}")

    def _customers(self, report: TickReport, now: datetime, simulated: float) -> None:
        """New customers now and then, unless orders already pile up waiting for a driver."""
        count = arrivals(self.rng, per_minute=self.orders_per_minute, seconds=simulated)
        if not count:
            return
        active = self._active_orders()
        backlog = sum(wants_driver(order, now=now, speedup=self.speedup) for order in active)
        room = min(self.MAX_WAITING - backlog, self.MAX_ACTIVE - len(active))
        restaurants = list(Restaurant.objects.filter(is_open=True).prefetch_related("menu_items"))
        menus = {r.id: [item for item in r.menu_items.all() if item.is_available] for r in restaurants}
        restaurants = [r for r in restaurants if any(i.size != MenuItem.Size.ONE for i in menus[r.id])]
        for _ in range(min(count, room)):
            if not restaurants:
                return
            restaurant = self.rng.choice(restaurants)
            try:
                with acting_as_simulator():
                    order = place(draft_order(restaurant, menus[restaurant.id], self.rng))
                report.placed.append(order.code)
            except DomainError as exc:
                report.refusals.append(f"new order at {restaurant.name}: {exc.detail}")
