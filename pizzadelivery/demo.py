"""The demo city, Berlin: a district gazetteer for checkout, the seed data, and the simulator.

There is no offline geocoder, so the storefront asks for a district and places the address
inside it: the district's centre plus a small offset derived from the address text (the same
text always lands on the same spot).

The simulator's decisions are small pure functions (routes, kitchen timing, arrivals) driven
by ``Simulator.tick``, which acts only through the services, exactly like the API would.
"""
from __future__ import annotations

import hashlib
import logging
import math
import os
import random
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from rest_framework.authtoken.models import Token

from pizzadelivery import services
from pizzadelivery.eta import haversine_m
from pizzadelivery.errors import DomainError
from pizzadelivery.models import Driver, MenuItem, Order, OrderStatus, Restaurant
from pizzadelivery.selectors import nearest_available_driver_ids

logger = logging.getLogger(__name__)


# --- the gazetteer --------------------------------------------------------------------

@dataclass(frozen=True)
class District:
    slug: str
    name: str
    lat: float
    lng: float
    streets: tuple[str, ...]


DISTRICTS: tuple[District, ...] = (
    District("mitte", "Mitte", 52.5208, 13.4009,
             ("Torstraße", "Linienstraße", "Auguststraße", "Rosenthaler Straße", "Invalidenstraße")),
    District("prenzlauer-berg", "Prenzlauer Berg", 52.5395, 13.4245,
             ("Kastanienallee", "Schönhauser Allee", "Danziger Straße", "Lychener Straße", "Stargarder Straße")),
    District("friedrichshain", "Friedrichshain", 52.5155, 13.4535,
             ("Boxhagener Straße", "Simon-Dach-Straße", "Warschauer Straße", "Grünberger Straße", "Revaler Straße")),
    District("kreuzberg", "Kreuzberg", 52.4975, 13.4120,
             ("Oranienstraße", "Wiener Straße", "Bergmannstraße", "Adalbertstraße", "Skalitzer Straße")),
    District("neukoelln", "Neukölln", 52.4795, 13.4365,
             ("Sonnenallee", "Weserstraße", "Karl-Marx-Straße", "Hermannstraße", "Pannierstraße")),
    District("schoeneberg", "Schöneberg", 52.4840, 13.3530,
             ("Akazienstraße", "Goltzstraße", "Hauptstraße", "Potsdamer Straße", "Winterfeldtstraße")),
    District("charlottenburg", "Charlottenburg", 52.5085, 13.3050,
             ("Kantstraße", "Grolmanstraße", "Bleibtreustraße", "Wilmersdorfer Straße", "Knesebeckstraße")),
    District("wilmersdorf", "Wilmersdorf", 52.4875, 13.3190,
             ("Uhlandstraße", "Pariser Straße", "Berliner Straße", "Brandenburgische Straße", "Prinzregentenstraße")),
    District("moabit", "Moabit", 52.5290, 13.3430,
             ("Turmstraße", "Stephanstraße", "Beusselstraße", "Perleberger Straße", "Alt-Moabit")),
    District("wedding", "Wedding", 52.5480, 13.3570,
             ("Müllerstraße", "Seestraße", "Utrechter Straße", "Triftstraße", "Amsterdamer Straße")),
    District("gesundbrunnen", "Gesundbrunnen", 52.5505, 13.3860,
             ("Badstraße", "Prinzenallee", "Koloniestraße", "Swinemünder Straße", "Stettiner Straße")),
    District("tempelhof", "Tempelhof", 52.4690, 13.3850,
             ("Tempelhofer Damm", "Manfred-von-Richthofen-Straße", "Boelckestraße", "Kaiserin-Augusta-Straße",
              "Alt-Tempelhof")),
    District("alt-treptow", "Alt-Treptow", 52.4910, 13.4630,
             ("Karl-Kunger-Straße", "Elsenstraße", "Bouchéstraße", "Kiefholzstraße", "Plesser Straße")),
    District("lichtenberg", "Lichtenberg", 52.5120, 13.4990,
             ("Frankfurter Allee", "Möllendorffstraße", "Weitlingstraße", "Fanningerstraße", "Siegfriedstraße")),
    District("pankow", "Pankow", 52.5695, 13.4020,
             ("Florastraße", "Breite Straße", "Wollankstraße", "Mühlenstraße", "Schulstraße")),
    District("weissensee", "Weißensee", 52.5540, 13.4650,
             ("Berliner Allee", "Langhansstraße", "Gustav-Adolf-Straße", "Pistoriusstraße", "Lehderstraße")),
    District("friedenau", "Friedenau", 52.4710, 13.3300,
             ("Rheinstraße", "Handjerystraße", "Bundesallee", "Südwestkorso", "Stubenrauchstraße")),
    District("steglitz", "Steglitz", 52.4560, 13.3210,
             ("Schloßstraße", "Albrechtstraße", "Grunewaldstraße", "Birkbuschstraße", "Lepsiusstraße")),
)
DISTRICTS_BY_SLUG: dict[str, District] = {district.slug: district for district in DISTRICTS}

# About ±450 m north-south and ±550 m east-west: inside the district, never on its centre.
JITTER_DEGREES = (0.008, 0.016)


def _unit_fractions(text: str, count: int) -> list[float]:
    """``count`` numbers in [0, 1) derived from ``text`` (stable across runs and machines)."""
    digest = hashlib.sha256(text.encode()).digest()
    return [int.from_bytes(digest[4 * i:4 * i + 4], "big") / 2**32 for i in range(count)]


def locate(district: District, address: str) -> tuple[float, float]:
    """The address's position: its district's centre plus an offset from the normalised text."""
    normalised = " ".join(address.casefold().split())
    north, east = _unit_fractions(f"{district.slug}|{normalised}", 2)
    return (round(district.lat + (north - 0.5) * JITTER_DEGREES[0], 6),
            round(district.lng + (east - 0.5) * JITTER_DEGREES[1], 6))


# --- seed data ------------------------------------------------------------------------

@dataclass(frozen=True)
class Dish:
    name: str
    description: str
    price: Decimal  # a pizza's small size; medium and large cost more


PIZZAS: dict[str, Dish] = {dish.name: dish for dish in (
    Dish("Margherita", "San Marzano tomato, fior di latte, basil, olive oil", Decimal("7.50")),
    Dish("Marinara", "Tomato, garlic, oregano, olive oil (vegan)", Decimal("6.90")),
    Dish("Diavola", "Tomato, mozzarella, spicy salame, fresh chilli", Decimal("9.50")),
    Dish("Quattro Formaggi", "Mozzarella, gorgonzola, parmigiano, taleggio", Decimal("10.00")),
    Dish("Funghi", "Tomato, mozzarella, roasted mushrooms, thyme", Decimal("8.90")),
    Dish("Prosciutto e Rucola", "Tomato, mozzarella, Parma ham, rocket, parmigiano", Decimal("11.50")),
    Dish("Capricciosa", "Cooked ham, mushrooms, artichokes, black olives", Decimal("10.50")),
    Dish("Ortolana", "Grilled courgette, aubergine, peppers, vegan cheese", Decimal("9.90")),
    Dish("Salsiccia e Friarielli", "Fennel sausage, broccoli rabe, smoked provola", Decimal("11.90")),
    Dish("Tonno e Cipolla", "Tuna, red onion, capers, oregano", Decimal("9.90")),
)}
EXTRAS: dict[str, Dish] = {dish.name: dish for dish in (
    Dish("Tiramisù", "Mascarpone, espresso, cocoa — made every morning", Decimal("5.50")),
    Dish("Panna cotta", "Vanilla cream with raspberry coulis", Decimal("4.90")),
    Dish("Cannolo siciliano", "Crisp shell, sweet ricotta, pistachio", Decimal("3.90")),
    Dish("Insalata mista", "Leaf salad, tomato, cucumber, balsamic", Decimal("6.50")),
    Dish("San Pellegrino 0.5 l", "Sparkling mineral water", Decimal("2.90")),
    Dish("Club-Mate 0.5 l", "Berlin's caffeinated classic", Decimal("3.20")),
    Dish("Fritz-Kola 0.33 l", "Cola from Hamburg", Decimal("2.90")),
)}
SIZE_SURCHARGE = {MenuItem.Size.SMALL: Decimal("0.00"), MenuItem.Size.MEDIUM: Decimal("2.50"),
                  MenuItem.Size.LARGE: Decimal("5.00")}


@dataclass(frozen=True)
class RestaurantSeed:
    slug: str
    name: str
    address: str
    lat: float
    lng: float
    description: str
    prep_minutes: int
    pizzas: tuple[str, ...]
    extras: tuple[str, ...]
    price_shift: Decimal = Decimal("0.00")
    is_open: bool = True


RESTAURANTS: tuple[RestaurantSeed, ...] = (
    RestaurantSeed("forno-rosso", "Forno Rosso", "Kastanienallee 28, 10435 Berlin", 52.5381, 13.4101,
                   "Wood-fired Neapolitan pies, 48-hour dough, blistered crust.", 12,
                   ("Margherita", "Marinara", "Diavola", "Salsiccia e Friarielli", "Prosciutto e Rucola"),
                   ("Tiramisù", "San Pellegrino 0.5 l", "Club-Mate 0.5 l"), Decimal("0.50")),
    RestaurantSeed("da-nonna-lucia", "Da Nonna Lucia", "Oranienstraße 164, 10969 Berlin", 52.5027, 13.4106,
                   "Family recipes from Puglia, tomatoes from the family farm.", 14,
                   ("Margherita", "Capricciosa", "Quattro Formaggi", "Funghi", "Tonno e Cipolla"),
                   ("Panna cotta", "Cannolo siciliano", "San Pellegrino 0.5 l", "Fritz-Kola 0.33 l")),
    RestaurantSeed("napoli-nord", "Napoli Nord", "Müllerstraße 140, 13353 Berlin", 52.5453, 13.3593,
                   "Fast, crisp and generous: Wedding's late-night favourite.", 10,
                   ("Margherita", "Diavola", "Funghi", "Capricciosa", "Tonno e Cipolla", "Quattro Formaggi"),
                   ("Insalata mista", "Fritz-Kola 0.33 l", "Club-Mate 0.5 l"), Decimal("-0.50")),
    RestaurantSeed("ofenhaus-boxhagen", "Ofenhaus Boxhagen", "Simon-Dach-Straße 20, 10245 Berlin",
                   52.5098, 13.4575, "Roman-style thin crust, seasonal toppings, natural lemonades.", 13,
                   ("Marinara", "Ortolana", "Funghi", "Prosciutto e Rucola", "Salsiccia e Friarielli"),
                   ("Tiramisù", "Insalata mista", "Club-Mate 0.5 l")),
    RestaurantSeed("sonnenallee-slice", "Sonnenallee Slice", "Sonnenallee 67, 12045 Berlin", 52.4851, 13.4383,
                   "Big pies, generous cheese, vegan mozzarella on every pizza on request.", 11,
                   ("Margherita", "Diavola", "Ortolana", "Quattro Formaggi", "Marinara"),
                   ("Cannolo siciliano", "Fritz-Kola 0.33 l", "San Pellegrino 0.5 l"), Decimal("-0.40")),
    RestaurantSeed("trattoria-savigny", "Trattoria Savigny", "Kantstraße 70, 10627 Berlin", 52.5062, 13.3030,
                   "Classic trattoria pizzas. Closed for renovation this week: browse the menu.", 15,
                   ("Margherita", "Funghi", "Capricciosa", "Prosciutto e Rucola"),
                   ("Tiramisù", "Panna cotta", "San Pellegrino 0.5 l"), Decimal("1.00"), is_open=False),
)


@dataclass(frozen=True)
class DriverSeed:
    name: str
    vehicle: str
    phone: str
    district: str
    on_shift: bool = True


DRIVERS: tuple[DriverSeed, ...] = (
    DriverSeed("Jonas Becker", Driver.Vehicle.EBIKE, "+49 151 2345 0101", "prenzlauer-berg"),
    DriverSeed("Aylin Demir", Driver.Vehicle.SCOOTER, "+49 151 2345 0102", "kreuzberg"),
    DriverSeed("Mateusz Nowak", Driver.Vehicle.CAR, "+49 151 2345 0103", "wedding"),
    DriverSeed("Lena Hoffmann", Driver.Vehicle.BIKE, "+49 151 2345 0104", "friedrichshain"),
    DriverSeed("Kofi Mensah", Driver.Vehicle.SCOOTER, "+49 151 2345 0105", "neukoelln"),
    DriverSeed("Sofia Romano", Driver.Vehicle.EBIKE, "+49 151 2345 0106", "mitte"),
    DriverSeed("Emre Yıldız", Driver.Vehicle.SCOOTER, "+49 151 2345 0107", "gesundbrunnen"),
    DriverSeed("Hannah Schulz", Driver.Vehicle.BIKE, "+49 151 2345 0108", "schoeneberg"),
    DriverSeed("Tomás Silva", Driver.Vehicle.CAR, "+49 151 2345 0109", "moabit"),
    DriverSeed("Mila Petrović", Driver.Vehicle.EBIKE, "+49 151 2345 0110", "alt-treptow"),
    DriverSeed("Felix Wagner", Driver.Vehicle.SCOOTER, "+49 151 2345 0111", "lichtenberg"),
    DriverSeed("Noor Haddad", Driver.Vehicle.EBIKE, "+49 151 2345 0112", "charlottenburg", on_shift=False),
    DriverSeed("Lukas Braun", Driver.Vehicle.CAR, "+49 151 2345 0113", "pankow", on_shift=False),
    DriverSeed("Yuki Tanaka", Driver.Vehicle.BIKE, "+49 151 2345 0114", "tempelhof", on_shift=False),
    DriverSeed("Ines Costa", Driver.Vehicle.SCOOTER, "+49 151 2345 0115", "schoeneberg"),
    DriverSeed("Arjun Mehta", Driver.Vehicle.EBIKE, "+49 151 2345 0116", "kreuzberg"),
    DriverSeed("Marta Kowalska", Driver.Vehicle.BIKE, "+49 151 2345 0117", "prenzlauer-berg"),
    DriverSeed("Ole Jansen", Driver.Vehicle.SCOOTER, "+49 151 2345 0118", "friedrichshain"),
)

FIRST_NAMES = ("Anna", "Ben", "Clara", "David", "Elif", "Finn", "Greta", "Hamid", "Ida", "Jan", "Katya", "Leon",
               "Marie", "Nils", "Olga", "Paul", "Rosa", "Samir", "Tilda", "Umut", "Vera", "Wanda", "Yusuf", "Zoe")
LAST_NAMES = ("Albrecht", "Bauer", "Çelik", "Dietrich", "Engel", "Fischer", "Graf", "Hahn", "Ivanova", "Jung",
              "Krüger", "Lange", "Meyer", "Neumann", "Özdemir", "Peters", "Richter", "Schmidt", "Vogel", "Weber")
NOTES = ("", "", "", "Ring twice, please.", "Third floor, no lift.", "Back building (Hinterhaus).",
         "Extra chilli if possible!", "Leave it with the neighbour at no. 4 if we miss you.")

# How many demo orders to seed for a status the database does not show yet.
# Few delivered ones: seeding cannot let time pass, so their delivery takes no time at all;
# the simulator soon adds real ones.
SEED_ORDERS = {"placed": 2, "confirmed": 2, "preparing": 2, "ready": 1, "dispatched": 2,
               "out_for_delivery": 2, "delivered": 1, "cancelled": 1}
PATH_TO = {
    "placed": [],
    "confirmed": ["confirmed"],
    "preparing": ["confirmed", "preparing"],
    "ready": ["confirmed", "preparing", "ready"],
    "dispatched": ["confirmed", "preparing", "dispatched"],  # sent while the pizza is in the oven
    "out_for_delivery": ["confirmed", "preparing", "ready", "dispatched", "out_for_delivery"],
    "delivered": ["confirmed", "preparing", "ready", "dispatched", "out_for_delivery", "delivered"],
    "cancelled": ["confirmed", "cancelled"],
}
ADMIN_USERNAME = "admin"
ADMIN_PASSWORD_FILE = "demo_admin_password"


@dataclass
class SeedReport:
    restaurants: int = 0
    menu_items: int = 0
    drivers: int = 0
    orders: int = 0
    admin_created: bool = False
    admin_password: str = ""
    admin_token: str = ""
    skipped: list[str] = field(default_factory=list)


def _menu_rows(spec: RestaurantSeed) -> Iterable[tuple[str, str, str, Decimal]]:
    for name in spec.pizzas:
        dish = PIZZAS[name]
        for size, surcharge in SIZE_SURCHARGE.items():
            yield dish.name, dish.description, size, dish.price + surcharge + spec.price_shift
    for name in spec.extras:
        dish = EXTRAS[name]
        yield dish.name, dish.description, MenuItem.Size.ONE, dish.price


def seed_catalogue(report: SeedReport) -> None:
    """Pizzerias and menus. Catalogue rows carry no lifecycle, so they are plain rows; an
    existing pizzeria is left as staff edited it (opening it, closing it, renaming it)."""
    with transaction.atomic():
        for spec in RESTAURANTS:
            restaurant, created = Restaurant.objects.get_or_create(slug=spec.slug, defaults={
                "name": spec.name, "address": spec.address, "lat": Decimal(f"{spec.lat:.6f}"),
                "lng": Decimal(f"{spec.lng:.6f}"), "description": spec.description,
                "prep_minutes": spec.prep_minutes, "is_open": spec.is_open})
            report.restaurants += created
            if not created:
                continue
            for name, description, size, price in _menu_rows(spec):
                MenuItem.objects.create(restaurant=restaurant, name=name, description=description,
                                        size=size, price=price)
                report.menu_items += 1


def seed_drivers(report: SeedReport) -> None:
    known = set(Driver.objects.values_list("phone", flat=True))
    for spec in DRIVERS:
        if spec.phone in known:
            continue
        lat, lng = locate(DISTRICTS_BY_SLUG[spec.district], spec.name)
        services.driver_register(name=spec.name, vehicle=spec.vehicle, phone=spec.phone, lat=lat, lng=lng,
                                 status=Driver.Status.AVAILABLE if spec.on_shift else Driver.Status.OFFLINE)
        report.drivers += 1


def nearby_districts(lat: float, lng: float, *, within_m: float = 3500) -> list[District]:
    """Districts a pizzeria at (lat, lng) plausibly delivers to (at least the nearest three)."""
    ranked = sorted(DISTRICTS, key=lambda d: haversine_m(lat, lng, d.lat, d.lng))
    near = [d for d in ranked if haversine_m(lat, lng, d.lat, d.lng) <= within_m]
    return near if len(near) >= 3 else ranked[:3]


@dataclass(frozen=True)
class OrderDraft:
    restaurant_id: int
    lines: list[services.LineInput]
    customer_name: str
    customer_phone: str
    address: str
    lat: float
    lng: float
    notes: str


def draft_order(restaurant: Restaurant, menu: list[MenuItem], rng: random.Random) -> OrderDraft:
    """A plausible customer order: one to three pizzas, sometimes a drink or dessert, to an
    address in a district the pizzeria serves."""
    pizzas = [item for item in menu if item.size != MenuItem.Size.ONE]
    extras = [item for item in menu if item.size == MenuItem.Size.ONE]
    chosen: dict[int, int] = {}
    for item in rng.sample(pizzas, k=min(len(pizzas), rng.choice((1, 1, 2, 2, 3)))):
        chosen[item.id] = rng.choice((1, 1, 1, 2))
    if extras and rng.random() < 0.6:
        chosen[rng.choice(extras).id] = rng.choice((1, 2))
    district = rng.choice(nearby_districts(float(restaurant.lat), float(restaurant.lng)))
    address = f"{rng.choice(district.streets)} {rng.randint(1, 160)}"
    lat, lng = locate(district, address)
    return OrderDraft(
        restaurant_id=restaurant.id,
        lines=[services.LineInput(item_id, quantity) for item_id, quantity in chosen.items()],
        customer_name=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
        customer_phone=f"+49 1{rng.randint(50, 79)} {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}",
        address=f"{address}, {district.name}", lat=lat, lng=lng, notes=rng.choice(NOTES))


def place(draft: OrderDraft) -> Order:
    return services.order_create(restaurant_id=draft.restaurant_id, lines=draft.lines,
                                 customer_name=draft.customer_name, customer_phone=draft.customer_phone,
                                 address=draft.address, lat=draft.lat, lng=draft.lng, notes=draft.notes)


def _seed_order(status: str, restaurant: Restaurant, rng: random.Random) -> None:
    order = place(draft_order(restaurant, list(restaurant.menu_items.filter(is_available=True)), rng))
    picked_up = status in (OrderStatus.OUT_FOR_DELIVERY, OrderStatus.DELIVERED)
    courier: int | None = None
    for step in PATH_TO[status]:
        if step == OrderStatus.DISPATCHED and picked_up:
            # Seeding cannot let time pass: a courier picking up "now" already waits at the
            # counter when sent, so the ETA promised at dispatch is what then happens.
            courier = next(iter(nearest_available_driver_ids(lat=float(restaurant.lat), lng=float(restaurant.lng))),
                           None)
            if courier is None:
                raise DomainError("No driver is available right now.", code="no_driver_available")
            services.driver_location_update(driver_id=courier, lat=float(restaurant.lat), lng=float(restaurant.lng),
                                            heading=0.0, speed_kmh=0.0)
        elif step == OrderStatus.DELIVERED and courier is not None:
            services.driver_location_update(driver_id=courier, lat=float(order.delivery_lat),
                                            lng=float(order.delivery_lng), heading=0.0, speed_kmh=0.0)
        services.order_transition(order_id=order.id, to=step,
                                  driver_id=courier if step == OrderStatus.DISPATCHED else None,
                                  reason="Customer called to cancel." if step == OrderStatus.CANCELLED else "")


def seed_orders(report: SeedReport, rng: random.Random) -> None:
    """Orders for every status the database does not show yet, moved there through the
    services so that each one has its events and its mirror documents."""
    present = set(Order.objects.values_list("status", flat=True).distinct())
    restaurants = list(Restaurant.objects.filter(is_open=True, menu_items__isnull=False).distinct())
    if not restaurants:
        report.skipped.append("orders (no open pizzeria with a menu)")
        return
    for status, count in SEED_ORDERS.items():
        if status in present:
            continue
        for n in range(count):
            try:
                _seed_order(status, restaurants[(report.orders + n) % len(restaurants)], rng)
                report.orders += 1
            except DomainError as exc:  # e.g. every driver is busy: seed what can be seeded
                report.skipped.append(f"{status} order: {exc.detail}")
                break


def admin_password() -> str:
    """``DEMO_ADMIN_PASSWORD``, else the one generated on the first run (kept in VAR_DIR)."""
    given = os.environ.get("DEMO_ADMIN_PASSWORD")
    if given:
        return given
    path = settings.VAR_DIR / ADMIN_PASSWORD_FILE
    if path.exists() and path.read_text().strip():
        return path.read_text().strip()
    password = secrets.token_urlsafe(12)
    path.write_text(password + "\n")
    path.chmod(0o600)
    return password


def seed_admin(report: SeedReport) -> None:
    password = admin_password()
    user, created = User.objects.get_or_create(username=ADMIN_USERNAME, defaults={
        "is_staff": True, "is_superuser": True, "email": "admin@example.com"})
    if created or not user.check_password(password) or not (user.is_staff and user.is_superuser):
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
    token, _ = Token.objects.get_or_create(user=user)
    report.admin_created = created
    report.admin_password = password
    report.admin_token = token.key


def seed(*, rng_seed: int = 20250101) -> SeedReport:
    """Idempotent: a second run finds everything in place and changes nothing."""
    report = SeedReport()
    seed_catalogue(report)
    seed_drivers(report)
    seed_orders(report, random.Random(rng_seed))
    seed_admin(report)
    return report


# --- the simulator: pure steps ---------------------------------------------------------

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
    (f,) = _unit_fractions(f"driver|{driver_id}", 1)
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
    (f,) = _unit_fractions(f"{order_id}|{stage}", 1)
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

    # each step catches the refusals a concurrent admin or API call can cause and moves on
    def _transition(self, report: TickReport, order: Order, to: str, **kwargs: Any) -> Order | None:
        try:
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
            step = kitchen_step_due(order, now=now, speedup=self.speedup)
            if step and self._transition(report, order, step):
                report.kitchen.append(f"{order.code} {step}")

    def _dispatch(self, report: TickReport, now: datetime) -> None:
        for order in self._active_orders():
            if not wants_driver(order, now=now, speedup=self.speedup):
                continue
            if self._transition(report, order, OrderStatus.DISPATCHED):
                report.dispatched.append(order.code)
            elif (order.kitchen_status == OrderStatus.READY and order.ready_at
                  and (now - order.ready_at).total_seconds() * self.speedup > self.GIVE_UP_AFTER_S):
                if self._transition(report, order, OrderStatus.CANCELLED,
                                    reason="No driver was free; the customer was refunded."):
                    report.cancelled.append(order.code)

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
        drivers = list(Driver.objects.exclude(status=Driver.Status.OFFLINE))
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
        if not self._move(report, driver, leg, speed / 3.6 * simulated, speed):
            return
        if purpose[1] == "shop":
            if order.kitchen_status == OrderStatus.READY:
                if self._transition(report, order, OrderStatus.OUT_FOR_DELIVERY):
                    report.picked_up.append(order.code)
        elif self._transition(report, order, OrderStatus.DELIVERED):
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
        drivers = list(Driver.objects.all())
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
                order = place(draft_order(restaurant, menus[restaurant.id], self.rng))
                report.placed.append(order.code)
            except DomainError as exc:
                report.refusals.append(f"new order at {restaurant.name}: {exc.detail}")
