"""The permission matrix: every role against every API operation, page and socket, with the
exact status, and a refused request changes nothing (database, mirror, stream).

Roles: anonymous, a plain user with no role, the customer (the order's tracking token), the
kitchen of the order's pizzeria and of another one, the order's driver and another driver, a
dispatcher, an admin.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from pizzadelivery import services
from pizzadelivery.asgi import application
from pizzadelivery.lifecycle import ON_THE_ROAD
from pizzadelivery.models import Driver, Order, Restaurant
from pizzadelivery.tokens import tracking_token_for
from tests import factories
from tests.system.conftest import ORIGIN, browser_client, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)

ROLES = ("anonymous", "plain", "customer", "kitchen", "other_kitchen", "driver", "other_driver", "dispatcher",
         "admin")


@dataclass
class Cast:
    shop: Restaurant
    other_shop: Restaurant
    driver: Driver
    other_driver: Driver
    users: dict[str, User]

    def client(self, role: str) -> APIClient:
        if role in ("anonymous", "customer"):
            return APIClient(raise_request_exception=False)
        client = factories.token_client(self.users[role])
        client.raise_request_exception = False
        return client

    def free(self, driver: Driver) -> None:
        """Finish whatever the driver is on, so they can take (or leave) a shift or a job."""
        for order in Order.objects.filter(driver=driver, delivery_status__in=ON_THE_ROAD):
            if order.delivery_status == "dispatched":
                services.order_transition(order_id=order.id, to="cancelled", reason="test")
            else:
                services.order_transition(order_id=order.id, to="delivered", reason="test")
        services.driver_location_update(driver_id=driver.id, lat=factories.CITY[0], lng=factories.CITY[1])
        if Driver.objects.get(pk=driver.id).status != "available":
            services.driver_set_status(driver_id=driver.id, status="available")

    def ready_and_dispatched(self) -> Order:
        order = self.order("ready")
        services.order_transition(order_id=order.id, to="dispatched", driver_id=self.driver.id)
        return Order.objects.get(pk=order.id)

    def order(self, status: str) -> Order:
        """A fresh order at ``shop`` in ``status`` (with ``driver`` on it once dispatched)."""
        self.free(self.driver)
        return factories.order_at(status, restaurant_obj=self.shop, driver_obj=self.driver)


@pytest.fixture
def cast(mirror) -> Cast:
    shop, other_shop = factories.restaurant(name="Da Mario"), factories.restaurant(name="Da Luigi")
    factories.menu_item(shop)
    factories.menu_item(other_shop)
    driver, other_driver = factories.driver(name="Carla"), factories.driver(name="Dieter")
    users = {
        "plain": factories.plain_user("plain"),
        "kitchen": factories.kitchen_user(shop, username="kitchen-da-mario"),
        "other_kitchen": factories.kitchen_user(other_shop, username="kitchen-da-luigi"),
        "driver": factories.driver_user(driver),
        "other_driver": factories.driver_user(other_driver),
        "dispatcher": factories.dispatcher_user(),
        "admin": factories.admin_user(),
    }
    for user in users.values():  # tokens exist before anything is compared
        factories.token_client(user)
    return Cast(shop, other_shop, driver, other_driver, users)


@dataclass
class Case:
    name: str
    method: str
    path: Callable[[Cast, Any], str]
    setup: Callable[[Cast], Any] = lambda cast: None
    body: Callable[[Cast, Any], dict[str, Any]] | None = None
    allowed: dict[str, int] | None = None  # role -> success status; every other role is refused
    refused: dict[str, int] | None = None  # role -> another refusal than 401/403

    def expected(self, role: str, target: Any) -> int:
        """The status for ``role``: its success, or 401 without credentials (a customer holds
        them only for an order), or 403."""
        if self.allowed and role in self.allowed:
            return self.allowed[role]
        if self.refused and role in self.refused:
            return self.refused[role]
        if role == "anonymous" or (role == "customer" and not isinstance(target, Order)):
            return 401
        return 403


def _order_path(suffix: str = "") -> Callable[[Cast, Order], str]:
    return lambda cast, order: f"/api/orders/{order.id}{suffix}"


def _place(cast: Cast, target: Any) -> dict[str, Any]:
    return {"restaurant": cast.shop.id, "items": [{"menu_item": cast.shop.menu_items.first().id, "quantity": 1}],
            "customer": {"name": "Phone Order", "phone": "+49 30 1234567"},
            "delivery_address": {"text": "Torstraße 1", "lat": 52.53, "lng": 13.41}}


EVERYONE = {role: 200 for role in ROLES}
FLEET = {"dispatcher": 200, "admin": 200}
READERS = {"customer": 200, "kitchen": 200, "driver": 200, **FLEET}

CASES = [
    Case("list restaurants", "GET", lambda c, t: "/api/restaurants", allowed=EVERYONE),
    Case("read a menu", "GET", lambda c, t: f"/api/restaurants/{c.shop.id}/menu", allowed=EVERYONE),
    Case("place an order", "POST", lambda c, t: "/api/orders", body=_place,
         allowed={"kitchen": 201, "dispatcher": 201, "admin": 201}),
    Case("list orders", "GET", lambda c, t: "/api/orders",
         allowed={"kitchen": 200, "other_kitchen": 200, "driver": 200, "other_driver": 200, **FLEET}),
    Case("read an order", "GET", _order_path(), setup=lambda c: c.order("dispatched"), allowed=READERS),
    Case("read its delivery", "GET", _order_path("/delivery"), setup=lambda c: c.order("dispatched"),
         allowed=READERS),
    Case("confirm", "POST", _order_path("/transition"), setup=lambda c: c.order("placed"),
         body=lambda c, o: {"to": "confirmed"}, allowed={"kitchen": 200, "admin": 200}),
    Case("put in the oven", "POST", _order_path("/transition"), setup=lambda c: c.order("confirmed"),
         body=lambda c, o: {"to": "preparing"}, allowed={"kitchen": 200, "admin": 200}),
    Case("mark ready", "POST", _order_path("/transition"), setup=lambda c: c.order("preparing"),
         body=lambda c, o: {"to": "ready"}, allowed={"kitchen": 200, "admin": 200}),
    Case("dispatch", "POST", _order_path("/transition"), setup=lambda c: (c.free(c.other_driver), c.order("ready"))[1],
         body=lambda c, o: {"to": "dispatched", "driver_id": c.other_driver.id}, allowed=FLEET),
    Case("pick up", "POST", _order_path("/transition"), setup=lambda c: c.ready_and_dispatched(),
         body=lambda c, o: {"to": "out_for_delivery"}, allowed={"driver": 200, "admin": 200}),
    Case("deliver with a reason", "POST", _order_path("/transition"), setup=lambda c: c.order("out_for_delivery"),
         body=lambda c, o: {"to": "delivered", "reason": "left with the neighbour"}, allowed=FLEET),
    Case("deliver with the PIN", "POST", _order_path("/transition"), setup=lambda c: c.order("out_for_delivery"),
         body=lambda c, o: {"to": "delivered", "pin": o.delivery_pin}, allowed={"driver": 200, "admin": 200}),
    Case("cancel while placed", "POST", _order_path("/transition"), setup=lambda c: c.order("placed"),
         body=lambda c, o: {"to": "cancelled", "reason": "customer asked"},
         allowed={"customer": 200, "kitchen": 200, **FLEET}),
    Case("cancel in the oven", "POST", _order_path("/transition"), setup=lambda c: c.order("preparing"),
         body=lambda c, o: {"to": "cancelled", "reason": "out of stock"}, allowed={"kitchen": 200, **FLEET},
         refused={"customer": 409}),  # the customer may cancel, but only while it is placed
    Case("list drivers", "GET", lambda c, t: "/api/drivers",
         allowed={"driver": 200, "other_driver": 200, **FLEET}),
    Case("report a location", "POST", lambda c, t: f"/api/drivers/{c.driver.id}/location",
         body=lambda c, t: {"lat": 52.52, "lng": 13.40}, allowed={"driver": 200, "admin": 200}),
    Case("change a shift", "POST", lambda c, t: f"/api/drivers/{c.driver.id}/status",
         setup=lambda c: c.free(c.driver), body=lambda c, t: {"status": "offline"},
         allowed={"driver": 200, **FLEET}),
    Case("open or close a pizzeria", "POST", lambda c, t: f"/api/restaurants/{c.shop.id}/status",
         body=lambda c, t: {"open": True}, allowed={"kitchen": 200, "admin": 200}),
    Case("sell out a dish", "POST", lambda c, t: f"/api/menu-items/{c.shop.menu_items.first().id}/availability",
         body=lambda c, t: {"available": True}, allowed={"kitchen": 200, "admin": 200}),
    Case("read the system state", "GET", lambda c, t: "/api/state", allowed=FLEET),
    Case("read the event feed", "GET", lambda c, t: "/api/events",
         allowed={"kitchen": 200, "other_kitchen": 200, **FLEET}),
    Case("register a webhook", "POST", lambda c, t: "/api/webhooks",
         body=lambda c, t: {"url": "https://pos.example.com/hook", "events": ["*"]},
         allowed={"kitchen": 201, "other_kitchen": 201, **{role: 201 for role in FLEET}}),
    Case("list webhooks", "GET", lambda c, t: "/api/webhooks",
         allowed={"kitchen": 200, "other_kitchen": 200, **FLEET}),
    Case("read the schema", "GET", lambda c, t: "/api/schema", allowed=EVERYONE),
    Case("open the API docs", "GET", lambda c, t: "/api/docs", allowed=EVERYONE),
    Case("ask for health", "GET", lambda c, t: "/healthz", allowed=EVERYONE),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_every_role_against_every_api_operation(cast: Cast, case: Case, unchanged) -> None:
    outcomes, expected = {}, {}
    for role in ROLES:
        target = case.setup(cast)
        path = case.path(cast, target)
        if role == "customer" and isinstance(target, Order):
            path += f"?token={tracking_token_for(target.id)}"
        body = case.body(cast, target) if case.body else None
        client = cast.client(role)
        expected[role] = case.expected(role, target)
        data = None if body is None else json.dumps(body)
        if expected[role] >= 400:
            with unchanged():
                response = client.generic(case.method, path, data=data, content_type="application/json")
            code = {401: "not_authenticated", 403: "forbidden"}.get(expected[role], "invalid_transition")
            assert response.json()["error"] == code, (role, response.json())
        else:
            response = client.generic(case.method, path, data=data, content_type="application/json")
        outcomes[role] = response.status_code
    assert outcomes == expected


def test_lists_show_only_what_the_caller_may_see(cast: Cast) -> None:
    mine = cast.order("dispatched")  # at the kitchen's pizzeria, on the driver's bike
    theirs = factories.order_at("placed", restaurant_obj=cast.other_shop)

    def listed(role: str, path: str) -> set[str]:
        response = cast.client(role).get(path)
        assert response.status_code == 200, (role, path, response.content)
        return {row.get("order_id") or row.get("id") for row in response.json()["results"]}

    assert listed("kitchen", "/api/orders") == {str(mine.id)}
    assert listed("other_kitchen", "/api/orders") == {str(theirs.id)}
    assert listed("driver", "/api/orders") == {str(mine.id)}
    assert listed("other_driver", "/api/orders") == set()
    assert listed("dispatcher", "/api/orders") >= {str(mine.id), str(theirs.id)}
    assert listed("driver", "/api/drivers") == {cast.driver.id}
    assert listed("dispatcher", "/api/drivers") >= {cast.driver.id, cast.other_driver.id}
    kitchen_events = cast.client("kitchen").get("/api/events?limit=500").json()["results"]
    assert kitchen_events and {event["order_id"] for event in kitchen_events} == {str(mine.id)}
    other_events = cast.client("other_kitchen").get("/api/events?limit=500").json()["results"]
    assert {event["order_id"] for event in other_events} == {str(theirs.id)}
    fleet_events = cast.client("dispatcher").get("/api/events?limit=500").json()["results"]
    assert {str(mine.id), str(theirs.id)} <= {event["order_id"] for event in fleet_events}
    assert any(event["order_id"] is None for event in fleet_events)  # drivers' own events too


def test_order_list_filters_and_pages(cast: Cast) -> None:
    placed = [factories.order_at("placed", restaurant_obj=cast.shop) for _ in range(3)]
    confirmed = factories.order_at("confirmed", restaurant_obj=cast.shop)
    client = cast.client("kitchen")
    page = client.get("/api/orders", {"status": "placed", "limit": 2}).json()
    assert [row["id"] for row in page["results"]] == [str(o.id) for o in placed[::-1][:2]]  # newest first
    rest = client.get(page["next"]).json()
    assert [row["id"] for row in rest["results"]] == [str(placed[0].id)] and rest["next"] is None
    assert [row["id"] for row in client.get("/api/orders", {"status": "confirmed"}).json()["results"]] == [
        str(confirmed.id)]
    assert client.get("/api/orders", {"restaurant": cast.other_shop.id}).json()["results"] == []
    assert client.get("/api/orders", {"status": "nonsense"}).status_code == 400
    assert client.get("/api/orders", {"updated_after": "yesterday"}).status_code == 400


PAGES = [("/dashboard/", {"dispatcher", "admin"}), ("/dashboard/live/", {"dispatcher", "admin"}),
         ("/kitchen/", {"kitchen", "other_kitchen", "admin"}), ("/kitchen/live/", {"kitchen", "other_kitchen", "admin"}),
         ("/driver/", {"driver", "other_driver"}), ("/driver/live/", {"driver", "other_driver"})]


@pytest.mark.parametrize(("path", "allowed"), PAGES)
def test_every_role_against_the_pages(cast: Cast, path: str, allowed: set[str]) -> None:
    for role in ROLES:
        client = browser_client(cast.users.get(role))
        response = client.get(path)
        if role in allowed:
            assert response.status_code == 200, (role, path)
        elif role in ("anonymous", "customer"):
            assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), (role, path)
        else:
            assert response.status_code == 403, (role, path, response.status_code)


def test_only_admins_open_the_django_admin(cast: Cast) -> None:
    for role in ROLES:
        response = browser_client(cast.users.get(role)).get("/admin/")
        if role == "admin":
            assert response.status_code == 200
        else:
            assert response.status_code == 302 and response["Location"].startswith("/admin/login/"), role


def test_the_login_lands_on_each_roles_page(cast: Cast) -> None:
    assert browser_client(cast.users["dispatcher"]).get("/accounts/home/")["Location"] == "/dashboard/"
    assert browser_client(cast.users["admin"]).get("/accounts/home/")["Location"] == "/dashboard/"
    assert browser_client(cast.users["plain"]).get("/accounts/home/").status_code == 403


async def _socket(path: str, *headers: tuple[bytes, bytes]) -> int | str:
    communicator = WebsocketCommunicator(application, path, headers=[ORIGIN, *headers])
    connected, _ = await communicator.connect(timeout=3)
    assert connected
    if await communicator.receive_nothing(timeout=0.3):
        await communicator.disconnect()
        return "open"
    message = await communicator.receive_output(timeout=1)
    await communicator.disconnect(timeout=1)
    return message["code"]


SOCKETS = [("/ws/dashboard/", {"dispatcher", "admin"}), ("/ws/kitchen/", {"kitchen", "other_kitchen", "admin"}),
           ("/ws/driver/", {"driver", "other_driver"})]


@pytest.mark.parametrize(("path", "allowed"), SOCKETS)
@pytest.mark.usefixtures("close_worker_connections")
async def test_every_role_against_the_sockets(cast: Cast, path: str, allowed: set[str]) -> None:
    from asgiref.sync import sync_to_async

    outcomes, expected = {}, {}
    for role in ROLES:
        user = cast.users.get(role)
        headers = [await sync_to_async(session_cookie)(user)] if user else []
        outcomes[role] = await _socket(path, *headers)
        expected[role] = "open" if role in allowed else 4001 if user is None else 4003
    assert outcomes == expected
