"""The kitchen's socket: its staff only, and it gets its pizzeria's fragment pushed when an
order arrives (never another pizzeria's, never for a driver's position)."""
from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from pizzadelivery import services
from pizzadelivery.asgi import application
from tests import factories
from tests.system.conftest import ORIGIN, session_cookie

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_worker_connections")]


async def _open(user=None, path: str = "/ws/kitchen/") -> WebsocketCommunicator:
    headers = [ORIGIN] + ([await sync_to_async(session_cookie)(user)] if user else [])
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect(timeout=3)
    assert connected
    return communicator


async def _close_code(user=None) -> int:
    communicator = await _open(user)
    message = await communicator.receive_output(timeout=3)
    assert message["type"] == "websocket.close"
    return message["code"]


async def test_only_kitchens_open_it(mirror) -> None:
    assert await _close_code() == 4001
    for make in (factories.plain_user, factories.dispatcher_user):
        assert await _close_code(await sync_to_async(make)()) == 4003
    driver = await sync_to_async(factories.driver)()
    assert await _close_code(await sync_to_async(factories.driver_user)(driver)) == 4003


async def test_a_new_order_arrives_on_its_kitchens_screen_only(mirror) -> None:
    shop = await sync_to_async(factories.restaurant)(name="Da Mario")
    other = await sync_to_async(factories.restaurant)(name="Da Luigi")
    kitchen = await sync_to_async(factories.kitchen_user)(shop)
    screen = await _open(kitchen)
    assert await screen.receive_nothing(timeout=0.3)
    order = await sync_to_async(factories.order)(restaurant_obj=shop, customer_name="Grace Hopper")
    pushed = await screen.receive_from(timeout=5)
    assert f'id="kitchen-{shop.id}"' in pushed and order.code in pushed and "Grace" in pushed
    await sync_to_async(factories.order)(restaurant_obj=other)
    assert await screen.receive_nothing(timeout=0.5)  # another pizzeria's order: not here
    await sync_to_async(services.order_transition)(order_id=order.id, to="confirmed")
    driver = await sync_to_async(factories.driver)()
    await sync_to_async(services.order_transition)(order_id=order.id, to="dispatched", driver_id=driver.id)
    assert "Into the oven" in await screen.receive_from(timeout=5)
    assert "is on the way" in await screen.receive_from(timeout=5)
    await sync_to_async(services.driver_location_update)(driver_id=driver.id, lat=52.52, lng=13.40)
    assert await screen.receive_nothing(timeout=0.5)  # a position report changes nothing a kitchen shows
    await screen.disconnect()


async def test_each_screen_gets_its_pushes_in_its_own_language(mirror) -> None:
    shop = await sync_to_async(factories.restaurant)(name="Da Mario")
    kitchen = await sync_to_async(factories.kitchen_user)(shop)
    german = await _open(kitchen, "/ws/kitchen/?lang=de")
    english = await _open(kitchen, "/ws/kitchen/?lang=en")
    await sync_to_async(factories.order)(restaurant_obj=shop)
    in_german, in_english = await german.receive_from(timeout=5), await english.receive_from(timeout=5)
    assert "Bestätigen" in in_german and "Stornieren" in in_german and ">Confirm<" not in in_german
    assert "Confirm" in in_english and "Bestätigen" not in in_english
    assert await german.receive_nothing(timeout=0.3)  # one push each, not one per language
    await german.disconnect()
    await english.disconnect()
