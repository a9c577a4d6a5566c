"""The driver's socket: the driver themselves only; a new job arrives by itself."""
from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from pizzadelivery import services
from pizzadelivery.asgi import application
from tests import factories
from tests.system.conftest import ORIGIN, session_cookie

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_worker_connections")]


async def _open(user=None, path: str = "/ws/driver/") -> WebsocketCommunicator:
    headers = [ORIGIN] + ([await sync_to_async(session_cookie)(user)] if user else [])
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect(timeout=3)
    assert connected
    return communicator


async def test_only_drivers_open_it(mirror) -> None:
    for user in (None, await sync_to_async(factories.plain_user)(),
                 await sync_to_async(factories.dispatcher_user)(),
                 await sync_to_async(factories.kitchen_user)(await sync_to_async(factories.restaurant)())):
        communicator = await _open(user)
        message = await communicator.receive_output(timeout=3)
        assert message["type"] == "websocket.close" and message["code"] == (4001 if user is None else 4003)


async def test_a_new_job_arrives_by_itself_and_positions_push_nothing(mirror) -> None:
    driver = await sync_to_async(factories.driver)(name="Jonas Becker")
    other = await sync_to_async(factories.driver)(name="Kofi Mensah")
    phone = await _open(await sync_to_async(factories.driver_user)(driver))
    assert await phone.receive_nothing(timeout=0.3)
    order = await sync_to_async(factories.order_at)("confirmed")
    shop = await sync_to_async(lambda: order.restaurant.name)()
    await sync_to_async(services.order_transition)(order_id=order.id, to="dispatched", driver_id=driver.id)
    pushed = await phone.receive_from(timeout=5)
    assert 'id="driver-app"' in pushed and f"Pick up at {shop}" in pushed
    await sync_to_async(services.driver_location_update)(driver_id=driver.id, lat=52.52, lng=13.40)
    assert await phone.receive_nothing(timeout=0.5)
    await sync_to_async(services.order_transition)(order_id=order.id, to="preparing")  # the kitchen's step
    assert "The pizza is in the oven." in await phone.receive_from(timeout=5)
    await sync_to_async(services.driver_set_status)(driver_id=other.id, status="offline")
    assert await phone.receive_nothing(timeout=0.5)  # someone else's shift
    await phone.disconnect()


async def test_a_german_phone_gets_its_job_in_german(mirror) -> None:
    driver = await sync_to_async(factories.driver)(name="Jonas Becker")
    phone = await _open(await sync_to_async(factories.driver_user)(driver), "/ws/driver/?lang=de")
    order = await sync_to_async(factories.order_at)("confirmed")
    shop = await sync_to_async(lambda: order.restaurant.name)()
    await sync_to_async(services.order_transition)(order_id=order.id, to="dispatched", driver_id=driver.id)
    pushed = await phone.receive_from(timeout=5)
    assert f"Abholen bei {shop}" in pushed and "Pick up at" not in pushed
    await phone.disconnect()
