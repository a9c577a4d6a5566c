"""The demo city's data: Berlin pizzerias and their menus, drivers, orders in every status, and
the demo accounts. Everything goes through the services, like the API; running it twice
changes nothing the second time.
"""
from __future__ import annotations

import os
import random
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from rest_framework.authtoken.models import Token

from pizzadelivery import services
from pizzadelivery.eta import haversine_m
from pizzadelivery.geocoding import DISTRICTS, DISTRICTS_BY_SLUG, District, locate
from pizzadelivery.infra.errors import DomainError
from pizzadelivery.lifecycle import CancelReason, OrderStatus
from pizzadelivery.mirror.readers import nearest_available_driver_ids
from pizzadelivery.models import Driver, MenuItem, Order, Restaurant
from pizzadelivery.policy import make_dispatcher


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
DISPATCHER_USERNAME = "dispatcher"
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
    accounts: dict[str, list[str]] = field(default_factory=dict)  # role -> usernames
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
                                  reason="Customer called to cancel." if step == OrderStatus.CANCELLED else "",
                                  reason_code=CancelReason.CUSTOMER_ASKED,
                                  pin=Order.objects.get(pk=order.id).delivery_pin
                                  if step == OrderStatus.DELIVERED else None)


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


def seed_accounts(report: SeedReport) -> None:
    """The demo accounts, one per role, all with the admin's password: ``admin`` (superuser),
    ``dispatcher``, ``kitchen-<slug>`` for each pizzeria and ``driver-<id>`` for each driver."""
    password = admin_password()
    admin, created = User.objects.get_or_create(username=ADMIN_USERNAME, defaults={
        "is_staff": True, "is_superuser": True, "email": "admin@example.com"})
    if created or not admin.check_password(password) or not (admin.is_staff and admin.is_superuser):
        admin.is_staff = admin.is_superuser = True
        admin.set_password(password)
        admin.save()
    token, _ = Token.objects.get_or_create(user=admin)
    report.admin_created = created
    report.admin_password = password
    report.admin_token = token.key
    # Every demo account shares the admin's password, so its hash is computed once, not per account.
    hashed = admin.password

    def account(username: str) -> User:
        user, _ = User.objects.get_or_create(username=username, defaults={"password": hashed})
        if user.password != hashed:
            user.password = hashed
            user.save(update_fields=["password"])
        return user

    make_dispatcher(account(DISPATCHER_USERNAME))
    report.accounts = {"admin": [ADMIN_USERNAME], "dispatcher": [DISPATCHER_USERNAME], "kitchen": [], "driver": []}
    for restaurant in Restaurant.objects.order_by("name"):
        username = f"kitchen-{restaurant.slug}"
        restaurant.staff.add(account(username))
        report.accounts["kitchen"].append(username)
    for driver in Driver.objects.order_by("id"):
        user = account(f"driver-{driver.id}")
        if driver.user_id != user.id:
            services.driver_update_profile(driver_id=driver.id, user=user)
        report.accounts["driver"].append(user.username)


def seed(*, rng_seed: int = 20250101) -> SeedReport:
    """Idempotent: a second run finds everything in place and changes nothing."""
    report = SeedReport()
    seed_catalogue(report)
    seed_drivers(report)
    seed_orders(report, random.Random(rng_seed))
    seed_accounts(report)
    return report
