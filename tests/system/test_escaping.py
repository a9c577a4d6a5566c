"""Hostile text (HTML and script in names, addresses, notes) is shown escaped everywhere: every
page that shows it and every fragment pushed over a WebSocket.

Each check asserts both halves: the raw markup never appears, and its escaped form does (the text
is really on the page, not merely dropped).
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.test import Client
from django.utils.html import escape

from events.models import Event
from pizzadelivery import services
from pizzadelivery.asgi import application
from pizzadelivery.infra.ws import open_socket_counts
from pizzadelivery.models import Driver, MenuItem, Order, Restaurant
from pizzadelivery.tokens import tracking_token_for
from tests import factories
from tests.system.conftest import ORIGIN, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
QUOTES = "O'Hara \"Il Forno\""
RAW = (SCRIPT, "<img src=x onerror=alert(1)>", "<b>bold</b>")


def hostile(what: str) -> str:
    """A text that breaks out of elements and attributes, and says what field it is in."""
    return f"{SCRIPT}{IMG}<b>bold</b> {QUOTES} {what}"


def problems(html: str, *shown: str) -> list[str]:
    """Raw markup found in ``html``, and hostile texts in ``shown`` missing in their escaped form."""
    found = [f"raw {raw!r}" for raw in RAW if raw in html]
    found += [f"{text!r} not shown escaped" for text in shown if escape(text) not in html]
    return found


@dataclass
class Hostile:
    restaurant: Restaurant
    item: MenuItem
    driver: Driver
    order: Order  # out for delivery with the driver

    @property
    def token(self) -> str:
        return tracking_token_for(self.order.id)


@pytest.fixture
def evil(mirror) -> Hostile:
    restaurant = factories.restaurant(name=hostile("shop")[:120], description=hostile("about"),
                                      address=hostile("shop street"))
    item = factories.menu_item(restaurant, name=hostile("pizza")[:120], description=hostile("dough"))
    driver = factories.driver(name=hostile("driver")[:120])
    order = factories.order(restaurant_obj=restaurant, customer_name=hostile("customer")[:120],
                            address=hostile("street"), notes=hostile("notes"))
    for step in ("confirmed", "preparing", "ready", "dispatched", "out_for_delivery"):
        services.order_transition(order_id=order.id, to=step, driver_id=driver.id)
    return Hostile(restaurant, item, driver, Order.objects.get(pk=order.id))


@pytest.fixture
def admin_client(transactional_db) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("admin", password="pw-for-tests-only"))
    return client


def test_storefront_and_menu(evil: Hostile) -> None:
    customer = Client()
    assert not problems(customer.get("/").content.decode(), evil.restaurant.name, evil.restaurant.description)
    menu = f"/restaurants/{evil.restaurant.slug}/"
    customer.post(f"{menu}cart/add/", {"item": evil.item.id})
    page = customer.get(menu).content.decode()
    assert not problems(page, evil.restaurant.name, evil.item.name, evil.item.description)
    htmx = customer.post(f"{menu}cart/add/", {"item": evil.item.id}, headers={"HX-Request": "true"})
    assert not problems(htmx.content.decode(), evil.item.name)


def test_checkout_form_errors_and_the_tracker_it_lands_on(evil: Hostile, settings) -> None:
    settings.RATELIMIT_ENABLE = False
    customer = Client()
    menu = f"/restaurants/{evil.restaurant.slug}/"
    customer.post(f"{menu}cart/add/", {"item": evil.item.id})
    name, street, notes = hostile("name")[:120], f"Torstraße 1 {hostile('street')[:180]}", hostile("notes")[:300]
    form = {"name": name, "phone": "+49 30 1234567", "address": street, "district": "mitte", "notes": notes}

    refused = customer.post(f"{menu}checkout/", {**form, "phone": SCRIPT})  # re-rendered with the input
    assert refused.status_code == 422
    assert not problems(refused.content.decode(), name, street, notes)

    placed = customer.post(f"{menu}checkout/", form)
    assert placed.status_code == 302
    tracker = customer.get(placed["Location"]).content.decode()  # checkout lands on the tracker
    assert not problems(tracker, evil.restaurant.name, evil.item.name, street, notes)


def test_tracker_page_and_live_fragments(evil: Hostile) -> None:
    customer = Client()
    for path in (f"/track/{evil.token}/", f"/track/{evil.token}/live/"):
        html = customer.get(path).content.decode()
        assert not problems(html, evil.driver.name, evil.order.delivery_address), path
    page = customer.get(f"/track/{evil.token}/").content.decode()
    assert not problems(page, evil.restaurant.name, evil.order.notes, evil.item.name)


def test_dashboard_pages(evil: Hostile, staff: User) -> None:
    dispatcher = Client()
    dispatcher.force_login(staff)
    for path in ("/dashboard/", "/dashboard/live/"):
        html = dispatcher.get(path).content.decode()
        assert not problems(html, evil.driver.name, evil.order.delivery_address), path
    assignment = Event.objects.get(order_id=evil.order.id, type="driver.assigned")
    html = dispatcher.get(f"/dashboard/batches/{assignment.correlation_id}/").content.decode()
    assert not problems(html, evil.driver.name)


def test_admin_pages(evil: Hostile, admin_client: Client) -> None:
    pages = {
        f"/admin/pizzadelivery/order/{evil.order.id}/change/": [evil.order.customer.name, evil.order.delivery_address,
                                                               evil.order.notes, evil.driver.name],
        "/admin/pizzadelivery/order/": [evil.restaurant.name],
        f"/admin/pizzadelivery/driver/{evil.driver.id}/change/": [evil.driver.name],
        "/admin/pizzadelivery/driver/": [evil.driver.name],
        f"/admin/pizzadelivery/restaurant/{evil.restaurant.id}/change/": [evil.restaurant.name],
        "/admin/pizzadelivery/restaurant/": [evil.restaurant.name],
        f"/admin/pizzadelivery/menuitem/{evil.item.id}/change/": [evil.item.name],
        "/admin/pizzadelivery/menuitem/": [evil.item.name],
    }
    found = []
    for path, shown in pages.items():
        response = admin_client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        found += [f"{path}: {problem}" for problem in problems(response.content.decode(), *shown)]
    assert not found, "\n".join(found)


# --- pushed fragments ----------------------------------------------------------------------------

async def received(communicator: WebsocketCommunicator, seconds: float = 3.0) -> str:
    """Everything pushed within ``seconds`` of the first message."""
    messages = [await communicator.receive_from(timeout=5)]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (left := deadline - loop.time()) > 0 and not await communicator.receive_nothing(timeout=min(left, 0.5)):
        messages.append(await communicator.receive_from(timeout=1))
    return "".join(messages)


@pytest.mark.usefixtures("close_worker_connections")
async def test_tracker_socket_pushes_escaped_fragments(evil: Hostile) -> None:
    communicator = WebsocketCommunicator(application, f"/ws/track/{evil.token}/", headers=[ORIGIN])
    assert (await communicator.connect(timeout=3))[0]

    await sync_to_async(services.driver_location_update)(driver_id=evil.driver.id, lat=52.525, lng=13.405)
    pushed = await received(communicator, seconds=0.5)

    assert not problems(pushed, evil.driver.name, evil.order.delivery_address)
    await communicator.disconnect()


@pytest.mark.usefixtures("close_worker_connections")
async def test_dashboard_socket_pushes_escaped_fragments(evil: Hostile, staff: User) -> None:
    cookie = await sync_to_async(session_cookie)(staff)
    communicator = WebsocketCommunicator(application, "/ws/dashboard/", headers=[ORIGIN, cookie])
    assert (await communicator.connect(timeout=3))[0]
    for _ in range(50):  # the fan-out pushes only once a dashboard socket is subscribed
        if (await sync_to_async(open_socket_counts)()).get("dashboard"):
            break
        await asyncio.sleep(0.05)

    other_driver = await sync_to_async(factories.driver)(name=hostile("second driver")[:120])
    order = await sync_to_async(factories.order)(restaurant_obj=evil.restaurant, address=hostile("second street"))
    for step in ("confirmed", "dispatched"):
        await sync_to_async(services.order_transition)(order_id=order.id, to=step, driver_id=other_driver.id)
    pushed = await received(communicator, seconds=2.5)

    assert 'id="feed-list"' in pushed  # the feed rows, and the state fragments below
    # The feed names the new driver; the state push (throttled: the first in its window) shows the
    # delivery already on the road.
    assert not problems(pushed, other_driver.name, evil.driver.name, evil.order.delivery_address)
    await communicator.disconnect()
