"""The living demo: the gazetteer, seed_demo (idempotent) and the simulator (through the services)."""
from __future__ import annotations

import io
import random
import signal
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.utils import timezone
from rest_framework.authtoken.models import Token

from events.models import Event
from pizzadelivery import geocoding, policy, services
from pizzadelivery.demo import seed
from pizzadelivery.demo import simulator as sim
from pizzadelivery.eta import haversine_m
from pizzadelivery.lifecycle import OrderStatus
from pizzadelivery.models import Driver, MenuItem, Order, Restaurant
from tests import factories
from tests.conftest import LiveServer

STATUSES = [s.value for s in OrderStatus]


# --- pure steps -------------------------------------------------------------------------------

def test_locate_is_deterministic_and_inside_the_district() -> None:
    mitte = geocoding.DISTRICTS_BY_SLUG["mitte"]

    here = geocoding.locate(mitte, "Torstraße 1")

    assert here == geocoding.locate(mitte, "  torstraße   1 ")  # same address, same spot
    assert here != geocoding.locate(mitte, "Torstraße 2")
    assert here != geocoding.locate(geocoding.DISTRICTS_BY_SLUG["wedding"], "Torstraße 1")
    assert haversine_m(mitte.lat, mitte.lng, *here) < 700


def test_gazetteer_covers_berlin() -> None:
    assert len(geocoding.DISTRICTS) >= 12
    assert len({d.slug for d in geocoding.DISTRICTS}) == len(geocoding.DISTRICTS)
    for district in geocoding.DISTRICTS:
        assert 52.3 < district.lat < 52.7 and 13.0 < district.lng < 13.8
        assert district.streets


def test_routes_follow_the_street_grid() -> None:
    rng = random.Random(3)
    start, end = sim.Point(52.52, 13.40), sim.Point(52.50, 13.44)
    for _ in range(50):
        points = sim.plan_route(start, end, rng)
        assert points[0] == start and points[-1] == end
        assert len(points) >= 3  # turns, not a beeline
        for a, b in zip(points, points[1:]):
            assert a.lat == b.lat or a.lng == b.lng  # each leg runs along one axis
        route = sim.Route(points)
        assert route.length_m >= sim.distance_m(start, end)


def test_a_route_is_driven_continuously() -> None:
    route = sim.Route(sim.plan_route(sim.Point(52.52, 13.40), sim.Point(52.51, 13.42), random.Random(1)))
    previous = route.points[0]
    while not route.arrived:
        position, heading = route.advance(25)
        assert sim.distance_m(previous, position) <= 25.5  # never a jump
        assert 0 <= heading < 360
        previous = position
    assert previous == route.points[-1]
    assert route.advance(100)[0] == route.points[-1]  # stays at the door


@pytest.mark.parametrize("vehicle", [v.value for v in Driver.Vehicle])
def test_drivers_ride_at_city_speeds(vehicle: str) -> None:
    speeds = [sim.cruising_speed_kmh(driver_id, vehicle) for driver_id in range(1, 200)]
    assert all(15 <= speed <= 30 for speed in speeds)
    assert len(set(speeds)) > 10  # each driver has a pace of their own


def _order(**fields: object) -> SimpleNamespace:
    base = {"id": "c0ffee00-0000-0000-0000-000000000000", "status": "placed", "kitchen_status": "placed",
            "placed_at": None, "confirmed_at": None, "preparing_at": None,
            "restaurant": SimpleNamespace(prep_minutes=12)}
    return SimpleNamespace(**{**base, **fields})


def test_kitchens_take_plausible_times() -> None:
    now = timezone.now()
    fresh = _order(placed_at=now - timedelta(seconds=10))
    assert sim.kitchen_step_due(fresh, now=now, speedup=1) is None
    assert sim.kitchen_step_due(_order(placed_at=now - timedelta(minutes=2)), now=now, speedup=1) == "confirmed"
    assert sim.kitchen_step_due(fresh, now=now, speedup=100) == "confirmed"  # ten seconds are 1000
    in_oven = _order(status="preparing", kitchen_status="preparing", preparing_at=now - timedelta(minutes=5))
    assert sim.kitchen_step_due(in_oven, now=now, speedup=1) is None  # a 12-minute pizza
    assert sim.kitchen_step_due(in_oven, now=now + timedelta(minutes=12), speedup=1) == "ready"
    assert sim.kitchen_step_due(_order(status="cancelled", placed_at=now - timedelta(hours=1)),
                                 now=now, speedup=1) is None
    assert sim.kitchen_step_due(_order(kitchen_status="ready"), now=now, speedup=1) is None


def test_drivers_are_sent_to_arrive_about_when_the_pizza_is_ready() -> None:
    now = timezone.now()
    oven = {"status": "preparing", "kitchen_status": "preparing", "delivery_status": ""}
    assert not sim.wants_driver(_order(**oven, preparing_at=now - timedelta(minutes=1)), now=now, speedup=1)
    assert sim.wants_driver(_order(**oven, preparing_at=now - timedelta(minutes=20)), now=now, speedup=1)
    assert sim.wants_driver(_order(**oven, preparing_at=now - timedelta(seconds=30)), now=now, speedup=60)
    assert sim.wants_driver(_order(status="ready", kitchen_status="ready", delivery_status=""), now=now, speedup=1)
    for waiting in ({"status": "placed", "kitchen_status": "placed", "delivery_status": ""},
                    {"status": "confirmed", "kitchen_status": "confirmed", "delivery_status": ""},
                    {"status": "dispatched", "kitchen_status": "ready", "delivery_status": "dispatched"},
                    {"status": "cancelled", "kitchen_status": "ready", "delivery_status": ""}):
        assert not sim.wants_driver(_order(**waiting), now=now, speedup=1)


def test_new_orders_arrive_a_few_per_minute() -> None:
    rng = random.Random(11)
    per_hour = sum(sim.arrivals(rng, per_minute=2, seconds=2) for _ in range(1800))
    assert 100 <= per_hour <= 140  # about 2 a minute


# --- seed_demo -------------------------------------------------------------------------------

def _counts() -> dict[str, int]:
    return {"restaurants": Restaurant.objects.count(), "menu": MenuItem.objects.count(),
            "drivers": Driver.objects.count(), "orders": Order.objects.count(), "events": Event.objects.count(),
            "users": User.objects.count(), "tokens": Token.objects.count()}


@pytest.mark.django_db(transaction=True)
def test_seed_demo_is_idempotent_and_covers_every_status(settings, tmp_path, monkeypatch) -> None:
    settings.VAR_DIR = tmp_path
    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", "demo-pass-for-tests")
    first = io.StringIO()

    call_command("seed_demo", stdout=first)
    seeded = _counts()
    second = io.StringIO()
    call_command("seed_demo", stdout=second)

    assert _counts() == seeded
    assert "nothing added" in second.getvalue()
    assert seeded["restaurants"] >= 5 and seeded["drivers"] >= 12
    assert set(Order.objects.values_list("status", flat=True)) == set(STATUSES)
    assert Restaurant.objects.filter(is_open=False).exists()
    assert Driver.objects.filter(status="offline").count() >= 2
    assert Driver.objects.filter(status="available").count() >= 6
    for restaurant in Restaurant.objects.all():
        sizes = set(restaurant.menu_items.values_list("size", flat=True))
        assert {"S", "M", "L", "-"} <= sizes  # pizzas in three sizes, plus drinks and desserts
        assert 52.4 < float(restaurant.lat) < 52.6
    # every order got there through the services: each stage it reached is an event
    for order in Order.objects.all():
        kinds = set(Event.objects.filter(order_id=order.id).values_list("type", flat=True))
        assert "order.placed" in kinds and f"order.{order.status}" in kinds
    assert User.objects.get(username="admin").check_password("demo-pass-for-tests")
    # The demo accounts of every role, all with that password, each printed.
    dispatcher = User.objects.get(username="dispatcher")
    assert policy.role_names(dispatcher) == ["dispatcher"] and dispatcher.check_password("demo-pass-for-tests")
    for restaurant in Restaurant.objects.all():
        kitchen = User.objects.get(username=f"kitchen-{restaurant.slug}")
        assert set(kitchen.restaurants.all()) == {restaurant} and kitchen.check_password("demo-pass-for-tests")
        assert f"kitchen-{restaurant.slug}" in first.getvalue()
    for driver in Driver.objects.select_related("user"):
        assert driver.user.username == f"driver-{driver.id}" and driver.user.check_password("demo-pass-for-tests")
    assert not User.objects.filter(is_staff=True).exclude(username="admin").exists()  # the admin is for admins
    token = Token.objects.get(user__username="admin").key
    assert token in first.getvalue() and token in second.getvalue()
    assert "demo-pass-for-tests" in first.getvalue()


@pytest.mark.django_db(transaction=True)
def test_seed_demo_generates_the_admin_password_once(settings, tmp_path, monkeypatch) -> None:
    settings.VAR_DIR = tmp_path
    monkeypatch.delenv("DEMO_ADMIN_PASSWORD", raising=False)

    call_command("seed_demo", stdout=io.StringIO())
    stored = (tmp_path / seed.ADMIN_PASSWORD_FILE).read_text().strip()
    again = io.StringIO()
    call_command("seed_demo", stdout=again)

    assert len(stored) >= 12
    assert f"password {stored}" in again.getvalue()
    assert User.objects.get(username="admin").check_password(stored)
    assert (tmp_path / seed.ADMIN_PASSWORD_FILE).stat().st_mode & 0o077 == 0


# --- the simulator ---------------------------------------------------------------------------

def _point_near(km_north: float, km_east: float) -> tuple[float, float]:
    return factories.CITY[0] + km_north / 111.2, factories.CITY[1] + km_east / 67.9


@pytest.mark.django_db(transaction=True)
def test_simulate_once_moves_orders_and_drivers_through_the_services(monkeypatch) -> None:
    placed_at = timezone.now() - timedelta(seconds=0.1)
    with monkeypatch.context() as earlier:  # at x1000 its 0.1 s are 100 s: more than a kitchen takes to confirm
        earlier.setattr(timezone, "now", lambda: placed_at)
        waiting = factories.order_at("placed")
    far = _point_near(3.0, 3.0)  # further than one tick's ride, so the rider is still moving
    rider = factories.driver(lat=far[0], lng=far[1])
    on_the_way = factories.order_at("dispatched", driver_obj=rider)
    before = (rider.lat, rider.lng)
    last_seq = Event.objects.order_by("-seq").values_list("seq", flat=True).first()
    out = io.StringIO()

    call_command("simulate", "--once", "--tick", "0.5", "--speedup", "1000", "--orders-per-minute", "0",
                 "--seed", "5", stdout=out)

    waiting.refresh_from_db()
    rider.refresh_from_db()
    assert waiting.status == "confirmed"  # the kitchen took it
    assert (rider.lat, rider.lng) != before
    new = Event.objects.filter(seq__gt=last_seq)
    assert new.filter(type="order.confirmed", order_id=waiting.id).exists()
    report = new.get(type="driver.location_updated", driver_id=rider.id)
    assert report.order_id == on_the_way.id
    assert 15 <= report.payload["speed_kmh"] <= 30
    assert "kitchen" in out.getvalue() and "locations" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_the_simulator_delivers_an_order_end_to_end_at_city_speed() -> None:
    shop = factories.restaurant(prep_minutes=1)
    customer_lat, customer_lng = _point_near(-0.6, 0.5)
    order = factories.order_at("preparing", restaurant_obj=shop, lat=customer_lat, lng=customer_lng)
    driver_lat, driver_lng = _point_near(0.5, -0.4)
    driver = factories.driver(lat=driver_lat, lng=driver_lng)
    simulator = sim.Simulator(speedup=1, orders_per_minute=0, rng=random.Random(2))
    tick_s = 4.0

    clock = timezone.now()
    for _ in range(400):
        clock += timedelta(seconds=tick_s)
        simulator.tick(now=clock, seconds=tick_s)
        order.refresh_from_db()
        if order.status == "delivered":
            break

    assert order.status == "delivered"
    assert order.driver_id == driver.id
    kinds = list(Event.objects.filter(order_id=order.id).order_by("seq").values_list("type", flat=True))
    milestones = [k for k in kinds if k in ("order.ready", "order.dispatched", "order.out_for_delivery",
                                            "order.delivered")]
    assert milestones == ["order.dispatched", "order.ready", "order.out_for_delivery", "order.delivered"]
    reports = list(Event.objects.filter(type="driver.location_updated", driver_id=driver.id).order_by("seq"))
    assert len(reports) > 20
    previous = (driver_lat, driver_lng)
    for report in reports:
        here = (report.payload["lat"], report.payload["lng"])
        speed = report.payload["speed_kmh"]
        assert speed == 0 or 15 <= speed <= 30
        # no teleporting: at most a report interval's worth of road at 30 km/h
        assert haversine_m(*previous, *here) <= 30 / 3.6 * sim.Simulator.REPORT_EVERY_S + 1
        previous = here
    # it stopped at the shop and ended at the customer's door
    assert min(haversine_m(float(shop.lat), float(shop.lng), r.payload["lat"], r.payload["lng"]) for r in reports) < 1
    assert haversine_m(customer_lat, customer_lng, *previous) < 1
    driver.refresh_from_db()
    assert driver.status == "available"


@pytest.mark.django_db(transaction=True)
def test_a_driver_whose_job_is_cancelled_heads_back_to_a_pizzeria() -> None:
    shop = factories.restaurant()
    far = _point_near(2.0, 2.0)
    rider = factories.driver(lat=far[0], lng=far[1])
    order = factories.order_at("dispatched", restaurant_obj=shop, driver_obj=rider)
    simulator = sim.Simulator(speedup=1, orders_per_minute=0, rng=random.Random(8))
    simulator.tick(now=timezone.now(), seconds=4)
    assert simulator.legs[rider.id].order_id == order.id

    services.order_transition(order_id=order.id, to="cancelled", reason="Customer changed their mind.")
    for _ in range(3):
        simulator.tick(now=timezone.now(), seconds=4)

    leg = simulator.legs[rider.id]
    assert leg.order_id is None and leg.purpose[0] == "home"
    assert sim.distance_m(leg.route.points[-1], sim.Point(float(shop.lat), float(shop.lng))) < 400
    rider.refresh_from_db()
    assert rider.status == "available"


@pytest.mark.django_db(transaction=True)
def test_the_simulator_places_new_orders_and_changes_shifts() -> None:
    factories.menu_item(shop := factories.restaurant(), name="Margherita", size="M", price=Decimal("9.00"))
    factories.menu_item(shop, name="Cola", size="-", price=Decimal("2.50"))
    for n in range(8):
        factories.driver(status="available" if n < 7 else "offline")
    simulator = sim.Simulator(speedup=60, orders_per_minute=2, rng=random.Random(4))

    placed, shifts = [], []
    for _ in range(20):
        report = simulator.tick(now=timezone.now(), seconds=2)
        placed += report.placed
        shifts += report.shifts

    assert placed and Order.objects.filter(code__in=placed).count() == len(placed)
    assert all(o.restaurant_id == shop.id and 52.3 < float(o.delivery_lat) < 52.7
               for o in Order.objects.filter(code__in=placed))
    assert shifts
    assert Event.objects.filter(type="driver.status_changed").count() == len(shifts)


@pytest.mark.django_db(transaction=True)
def test_simulate_stops_cleanly_on_sigterm(live_server_env) -> None:
    process = subprocess.Popen([sys.executable, str(django_settings.BASE_DIR / "manage.py"), "simulate", "--tick",
                                "0.2", "--orders-per-minute", "0", "--verbosity", "2"], env=live_server_env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = process.stdout.readline()
        assert "simulator running" in line, line
        ticks = [process.stdout.readline() for _ in range(3)]  # each tick reports (verbosity 2)
        assert all(ticks), ticks
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    assert "simulator stopped" in output


@pytest.fixture
def live_server_env() -> dict[str, str]:
    """Environment for a manage.py subprocess on this test's database and Redis."""
    return {**LiveServer().env(), "PYTHONUNBUFFERED": "1"}
