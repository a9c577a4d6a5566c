"""Test data, built through the same services the product uses."""
from __future__ import annotations

import itertools
from decimal import Decimal

from django.contrib.auth.models import User

from pizzadelivery import services
from pizzadelivery.models import Driver, MenuItem, Order, Restaurant

_counter = itertools.count(1)

CITY = (52.5200, 13.4050)  # Berlin Mitte


def restaurant(**overrides: object) -> Restaurant:
    n = next(_counter)
    values = {"name": f"Pizzeria {n}", "slug": f"pizzeria-{n}", "address": f"Teststraße {n}, Berlin",
              "lat": Decimal(f"{CITY[0]:.6f}"), "lng": Decimal(f"{CITY[1]:.6f}"), "prep_minutes": 12}
    values.update(overrides)
    return Restaurant.objects.create(**values)


def menu_item(restaurant_obj: Restaurant, **overrides: object) -> MenuItem:
    n = next(_counter)
    values = {"restaurant": restaurant_obj, "name": f"Pizza {n}", "size": "M", "price": Decimal("9.50")}
    values.update(overrides)
    return MenuItem.objects.create(**values)


def driver(*, lat: float = CITY[0] + 0.002, lng: float = CITY[1] + 0.002, status: str = "available",
           **overrides: object) -> Driver:
    n = next(_counter)
    values = {"name": f"Driver {n}", "vehicle": "scooter", "status": status, "lat": lat, "lng": lng}
    values.update(overrides)
    return services.driver_register(**values)


def order(*, restaurant_obj: Restaurant | None = None, quantity: int = 1, lat: float = CITY[0] + 0.01,
          lng: float = CITY[1] + 0.01, customer_name: str = "Ada Lovelace", address: str = "Torstraße 1",
          notes: str = "", customer_email: str = "", language: str = "") -> Order:
    restaurant_obj = restaurant_obj or restaurant()
    item = restaurant_obj.menu_items.first() or menu_item(restaurant_obj)
    return services.order_create(restaurant_id=restaurant_obj.id,
                                 lines=[services.LineInput(item.id, quantity)],
                                 customer_name=customer_name, customer_phone="+49 30 123456",
                                 address=address, lat=lat, lng=lng, notes=notes,
                                 customer_email=customer_email, language=language)


PATH_TO = {
    "placed": [],
    "confirmed": ["confirmed"],
    "preparing": ["confirmed", "preparing"],
    "ready": ["confirmed", "preparing", "ready"],
    "dispatched": ["confirmed", "dispatched"],
    "out_for_delivery": ["confirmed", "preparing", "ready", "dispatched", "out_for_delivery"],
    "delivered": ["confirmed", "preparing", "ready", "dispatched", "out_for_delivery", "delivered"],
    "cancelled": ["cancelled"],
}


def order_at(status: str, *, driver_obj: Driver | None = None, **kwargs: object) -> Order:
    """An order moved through the services to ``status``."""
    new = order(**kwargs)
    for step in PATH_TO[status]:
        if step == "dispatched":
            driver_obj = driver_obj or driver()
            services.order_transition(order_id=new.id, to=step, driver_id=driver_obj.id)
        elif step == "delivered":
            deliver(new.id)
        else:
            services.order_transition(order_id=new.id, to=step)
    return Order.objects.get(pk=new.id)


def published() -> None:
    """Wait for this process's publisher thread to finish every pass handed to it (position
    reports are answered at commit; their publishing and pushes follow)."""
    from events.handoff import publisher_thread

    assert publisher_thread.wait_idle(timeout=10), "the publisher thread did not finish its passes"


def deliver(order_id: object) -> Order:
    """Hand the order over the way a driver does: with the customer's PIN."""
    return services.order_transition(order_id=order_id, to="delivered",
                                     pin=Order.objects.get(pk=order_id).delivery_pin)


PASSWORD = "pw-for-tests-only"


def admin_user(username: str = "admin") -> User:
    return User.objects.create_user(username=username, password=PASSWORD, is_staff=True, is_superuser=True)


def staff_user(username: str = "staff") -> User:
    """The fleet's people (the tests' "staff"): a superuser, who may do everything."""
    return admin_user(username)


def plain_user(username: str = "nobody") -> User:
    """An account with no role at all."""
    return User.objects.create_user(username=username, password=PASSWORD)


def dispatcher_user(username: str = "dispatcher") -> User:
    from pizzadelivery.policy import make_dispatcher

    user = plain_user(username)
    make_dispatcher(user)
    return user


def kitchen_user(*restaurants: Restaurant, username: str = "kitchen") -> User:
    user = plain_user(username)
    for restaurant_obj in restaurants:
        restaurant_obj.staff.add(user)
    return user


def driver_user(driver_obj: Driver, username: str | None = None) -> User:
    user = plain_user(username or f"driver-{driver_obj.id}")
    services.driver_update_profile(driver_id=driver_obj.id, user=user)
    return user


def token_client(user: User):
    """An API client sending ``user``'s token."""
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client
