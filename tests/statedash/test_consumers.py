from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from pizzadelivery.asgi import application
from pizzadelivery.infra.ws import open_socket_counts
from tests import factories

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_worker_connections")]
ORIGIN = (b"origin", b"http://127.0.0.1:8000")


def _session_cookie(user: User) -> tuple[bytes, bytes]:
    client = Client()
    client.force_login(user)
    return b"cookie", f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


def _socket(*headers: tuple[bytes, bytes]) -> WebsocketCommunicator:
    return WebsocketCommunicator(application, "/ws/dashboard/", headers=list(headers))


async def _closed_with(communicator: WebsocketCommunicator) -> int:
    connected, _ = await communicator.connect()
    assert connected  # accepted, then closed: the browser sees the code and does not retry
    message = await communicator.receive_output(timeout=3)
    assert message["type"] == "websocket.close"
    return message["code"]


async def _dashboard_sockets(expected: int) -> None:
    for _ in range(50):
        if (await database_sync_to_async(open_socket_counts)()).get("dashboard", 0) == expected:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"expected {expected} dashboard sockets")


async def test_anonymous_socket_is_closed_with_4001(transactional_db) -> None:
    assert await _closed_with(_socket(ORIGIN)) == 4001


async def test_non_staff_socket_is_closed_with_4003(transactional_db) -> None:
    customer = await database_sync_to_async(User.objects.create_user)("customer", password="pw-for-tests-only")
    cookie = await database_sync_to_async(_session_cookie)(customer)
    assert await _closed_with(_socket(ORIGIN, cookie)) == 4003


async def test_foreign_origin_is_closed_with_4003(staff) -> None:
    cookie = await database_sync_to_async(_session_cookie)(staff)
    assert await _closed_with(_socket((b"origin", b"https://evil.example"), cookie)) == 4003


async def test_staff_socket_receives_feed_rows_and_throttled_state(staff, mirror) -> None:
    cookie = await database_sync_to_async(_session_cookie)(staff)
    socket = _socket(ORIGIN, cookie)
    connected, _ = await socket.connect()
    assert connected
    await _dashboard_sockets(1)

    order = await database_sync_to_async(factories.order)()
    first, second = await socket.receive_from(timeout=5), await socket.receive_from(timeout=5)
    feed, state = (first, second) if 'id="feed-list"' in first else (second, first)
    assert 'id="feed-list" class="feed-list" hx-swap-oob="afterbegin"' in feed
    assert order.code in feed and "order.placed" in feed
    assert 'id="v-feed"' in feed
    assert 'id="dash-stats"' in state and 'id="dash-stamp"' in state
    assert '<p class="stat-value" data-stat="orders_today">1</p>' in state

    # Within the throttle window a batch brings its feed row; the state waits for the poll.
    await database_sync_to_async(factories.order)()
    assert 'id="feed-list"' in await socket.receive_from(timeout=5)
    assert await socket.receive_nothing(timeout=0.5)

    await socket.disconnect()
    await _dashboard_sockets(0)


async def test_position_reports_stay_out_of_the_feed(staff, mirror) -> None:
    driver = await database_sync_to_async(factories.driver)()
    cookie = await database_sync_to_async(_session_cookie)(staff)
    socket = _socket(ORIGIN, cookie)
    assert (await socket.connect())[0]
    await _dashboard_sockets(1)
    from pizzadelivery import services

    await database_sync_to_async(services.driver_location_update)(driver_id=driver.id, lat=52.52, lng=13.41)
    message = await socket.receive_from(timeout=5)  # the state push (first in the window), no feed row
    assert 'id="feed-list"' not in message and 'id="dash-stamp"' in message
    assert await socket.receive_nothing(timeout=0.3)
    await socket.disconnect()
