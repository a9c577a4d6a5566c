"""A large, consistent dataset for the benchmark, inserted in bulk.

Going through the services would take minutes for 10,000 orders; instead the rows are written
in bulk with the timestamps, drivers and ETAs the lifecycle would have given them, and the Redis
mirror is then rebuilt from the database (``events.publisher.rebuild_mirror``), exactly as
``manage.py rebuild_mirror`` does after Redis restarts empty. The outbox starts empty: the
seeded history happened "before" the event log. Runs in the benchmark's own database only.
"""
from __future__ import annotations

import random
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token

from events.publisher import rebuild_projections
from pizzadelivery import eta
from pizzadelivery.lifecycle import OrderStatus
from pizzadelivery.models import Customer, Driver, MenuItem, Order, OrderItem, Restaurant
from pizzadelivery.services import CODE_ALPHABET
from pizzadelivery.policy import link_expired
from pizzadelivery.tokens import tracking_token_for

CITY = (52.5200, 13.4050)
PIZZAS = [("Margherita", "8.50"), ("Marinara", "7.90"), ("Diavola", "10.90"), ("Quattro Formaggi", "11.50"),
          ("Funghi", "9.90"), ("Prosciutto", "10.50"), ("Capricciosa", "11.90"), ("Vegana", "10.20")]
VEHICLES = [Driver.Vehicle.BIKE, Driver.Vehicle.EBIKE, Driver.Vehicle.SCOOTER, Driver.Vehicle.CAR]
BENCH_USER = "bench"
BATCH = 1000


@dataclass(frozen=True)
class SeedPlan:
    orders: int = 10_000
    drivers: int = 200
    restaurants: int = 20
    days: int = 7
    seed: int = 7


@contextmanager
def historic_timestamps() -> Iterator[None]:
    """Let bulk inserts carry their own created/updated times (days of history, not "now")."""
    fields = [Order._meta.get_field("created_at"), Order._meta.get_field("updated_at")]
    saved = [(f.auto_now, f.auto_now_add) for f in fields]
    for f in fields:
        f.auto_now = f.auto_now_add = False
    try:
        yield
    finally:
        for f, (auto_now, auto_now_add) in zip(fields, saved):
            f.auto_now, f.auto_now_add = auto_now, auto_now_add


def _near(rng: random.Random, lat: float, lng: float, km: float) -> tuple[float, float]:
    return lat + rng.uniform(-km, km) / 111.0, lng + rng.uniform(-km, km) / 68.0


def _dec(value: float) -> Decimal:
    return Decimal(f"{value:.6f}")


def _status_counts(plan: SeedPlan, active: int) -> dict[str, int]:
    """Every status present, most orders history (delivered), as a busy evening looks."""
    rest = plan.orders - active
    counts = {"placed": rest // 100, "confirmed": rest // 100, "preparing": rest // 50, "ready": rest // 100,
              "cancelled": rest // 20}
    counts["delivered"] = rest - sum(counts.values())
    counts["dispatched"] = active // 2
    counts["out_for_delivery"] = active - counts["dispatched"]
    return counts


def seed(plan: SeedPlan) -> dict[str, Any]:
    rng = random.Random(plan.seed)
    now = timezone.now()
    with transaction.atomic(), historic_timestamps():
        restaurants = Restaurant.objects.bulk_create([
            Restaurant(name=f"Bench Pizzeria {n:02d}", slug=f"bench-pizzeria-{n:02d}", address=f"Benchstraße {n}, Berlin",
                       lat=_dec(lat), lng=_dec(lng), prep_minutes=rng.randint(8, 16))
            for n, (lat, lng) in enumerate((_near(rng, *CITY, 5) for _ in range(plan.restaurants)), start=1)
        ])
        menu = MenuItem.objects.bulk_create([
            MenuItem(restaurant=r, name=name, size=size, price=Decimal(price) + (Decimal(2) if size == "L" else 0))
            for r in restaurants for name, price in PIZZAS for size in ("M", "L")
        ])
        menu_by_restaurant: dict[int, list[MenuItem]] = {}
        for item in menu:
            menu_by_restaurant.setdefault(item.restaurant_id, []).append(item)

        active = min(plan.drivers, int(plan.drivers * 0.7), plan.orders // 10)
        available = int(plan.drivers * 0.2)
        drivers = Driver.objects.bulk_create([
            Driver(name=f"Driver {n:03d}", phone=f"+49 30 5550{n:04d}", vehicle=rng.choice(VEHICLES),
                   status=(Driver.Status.BUSY if n <= active else
                           Driver.Status.AVAILABLE if n <= active + available else Driver.Status.OFFLINE),
                   lat=_dec(lat), lng=_dec(lng), heading=rng.uniform(0, 359), speed_kmh=rng.uniform(8, 25),
                   location_updated_at=now - timedelta(seconds=rng.randint(1, 30)))
            for n, (lat, lng) in enumerate((_near(rng, *CITY, 6) for _ in range(plan.drivers)), start=1)
        ], batch_size=BATCH)
        busy = drivers[:active]

        counts = _status_counts(plan, active)
        statuses = [s for s, c in counts.items() for _ in range(c)]
        customers = Customer.objects.bulk_create(
            [Customer(name=f"Customer {n}", phone=f"+49 151 {n:07d}") for n in range(len(statuses))],
            batch_size=BATCH)
        codes: set[str] = set()
        while len(codes) < len(statuses):
            codes.add("PZ-" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(6)))

        orders, items = [], []
        busy_iter = iter(busy)
        for status, customer, code in zip(statuses, customers, codes):
            restaurant = rng.choice(restaurants)
            order = _order(rng, now, plan, status, restaurant, customer, code,
                           next(busy_iter) if status in ("dispatched", "out_for_delivery") else rng.choice(drivers))
            lines = rng.sample(menu_by_restaurant[restaurant.id], rng.randint(1, 3))
            total = Decimal(0)
            for item in lines:
                quantity = rng.randint(1, 3)
                items.append(OrderItem(order=order, menu_item=item, name=item.name, size=item.size,
                                       unit_price=item.price, quantity=quantity))
                total += item.price * quantity
            order.total = total
            orders.append(order)
        Order.objects.bulk_create(orders, batch_size=BATCH)
        OrderItem.objects.bulk_create(items, batch_size=BATCH)
        Driver.objects.bulk_update(busy, ["lat", "lng"], batch_size=BATCH)  # moved onto their routes

        # An admin: the bench moves every driver and reads the state (pizzadelivery.policy).
        user, _ = User.objects.get_or_create(username=BENCH_USER, defaults={"is_staff": True, "is_superuser": True})
        token, _ = Token.objects.get_or_create(user=user)
    rebuild_projections()

    active_orders = [o for o in orders if o.status in ("dispatched", "out_for_delivery")]
    # Delivered recently enough that their tracking links still open (TRACKING_LINK_HOURS).
    delivered = sorted((o for o in orders if o.status == "delivered" and not link_expired(o)),
                       key=lambda o: o.delivered_at, reverse=True)
    return {
        "api_token": token.key,
        "counts": {**counts, "orders": len(orders), "order_items": len(items), "drivers": len(drivers),
                   "restaurants": len(restaurants)},
        # Active deliveries: what trackers watch and drivers move.
        "active": [{"order_id": str(o.id), "driver_id": o.driver_id, "status": o.status,
                    "token": tracking_token_for(o.id),
                    "to": [float(o.delivery_lat), float(o.delivery_lng)],
                    "from": [float(o.driver.lat), float(o.driver.lng)]} for o in active_orders],
        # Recently delivered: customers reopening their tracking link.
        "delivered": [{"order_id": str(o.id), "token": tracking_token_for(o.id)} for o in delivered[:100]],
    }


def _order(rng: random.Random, now: datetime, plan: SeedPlan, status: str, restaurant: Restaurant,
           customer: Customer, code: str, driver: Driver) -> Order:
    """One order with the timestamps (and driver, ETA) its status implies."""
    lat, lng = _near(rng, float(restaurant.lat), float(restaurant.lng), 3)
    live = status not in ("delivered", "cancelled")
    placed = now - (timedelta(minutes=rng.uniform(1, 40)) if live else
                    timedelta(seconds=rng.uniform(3600, plan.days * 86400)))
    order = Order(id=uuid.uuid4(), code=code, restaurant=restaurant, customer=customer,
                  delivery_address=f"Lieferweg {rng.randint(1, 200)}, Berlin", delivery_lat=_dec(lat),
                  delivery_lng=_dec(lng), total=Decimal(0), placed_at=placed, created_at=placed)
    stamps = {"placed": placed}
    kitchen_path = {"placed": [], "confirmed": ["confirmed"], "preparing": ["confirmed", "preparing"],
                    "ready": ["confirmed", "preparing", "ready"],
                    "dispatched": ["confirmed", "preparing"] if rng.random() < 0.5 else ["confirmed", "preparing", "ready"],
                    "cancelled": ["confirmed"] if rng.random() < 0.5 else []}
    kitchen = kitchen_path.get(status, ["confirmed", "preparing", "ready"])
    step = placed
    for stage in kitchen:
        step = min(now, step + timedelta(minutes=rng.uniform(1, 4) if stage != "ready" else rng.uniform(8, 14)))
        stamps[stage] = step
    order.kitchen_status = kitchen[-1] if kitchen else OrderStatus.PLACED
    if status in ("dispatched", "out_for_delivery", "delivered"):
        order.driver = driver
        order.dispatched_at = min(now, stamps["confirmed"] + timedelta(minutes=rng.uniform(1, 6)))
        order.delivery_status = status
        if status != "dispatched":
            order.out_for_delivery_at = min(now, max(stamps["ready"], order.dispatched_at) + timedelta(minutes=1))
        if status == "out_for_delivery":  # on the way: the driver is between shop and door
            share = rng.uniform(0.1, 0.9)
            driver.lat = _dec(float(restaurant.lat) + share * (lat - float(restaurant.lat)))
            driver.lng = _dec(float(restaurant.lng) + share * (lng - float(restaurant.lng)))
    for stage, at in stamps.items():
        setattr(order, f"{stage}_at", at)
    if order.delivery_status:
        order.eta_at_dispatch = eta.estimate_arrival(eta.Trip.of(order), now=order.dispatched_at, driver=None)
        if status == "delivered":
            order.delivered_at = order.out_for_delivery_at + timedelta(minutes=rng.uniform(6, 25))
            order.eta_at = order.eta_at_dispatch
        else:
            order.eta_at = eta.estimate_arrival(eta.Trip.of(order), now=now,
                                                driver=(float(driver.lat), float(driver.lng)))
    if status == "cancelled":
        order.cancelled_at = step + timedelta(minutes=1)
        order.cancel_reason = "customer changed their mind"
    order.status = status
    order.updated_at = max(t for t in (order.delivered_at, order.cancelled_at, order.out_for_delivery_at,
                                       order.dispatched_at, step) if t)
    return order
