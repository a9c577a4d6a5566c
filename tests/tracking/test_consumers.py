"""The tracker socket, through the real ASGI application (origin check, auth, routing) and the
real Redis channel layer."""
from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.db import connection

from pizzadelivery import services
from pizzadelivery.asgi import application
from pizzadelivery.infra.ws import open_socket_counts
from pizzadelivery.tokens import tracking_token_for
from tests.tracking.helpers import HOME, SHOP, advance, between, move, ready_then_dispatched, token
from tracking.consumers import tracker_group

pytestmark = pytest.mark.django_db(transaction=True)

ALLOWED_ORIGIN = "http://127.0.0.1:8000"


async def in_thread(function: Callable[..., Any], *args: Any) -> Any:
    """Sync code (ORM, services) off the event loop. Its thread's connection is closed after:
    PostgreSQL drops the test database only when no session is left on it."""
    def call() -> Any:
        try:
            return function(*args)
        finally:
            connection.close()

    return await sync_to_async(call)()


def socket(path: str, origin: str | None = ALLOWED_ORIGIN) -> WebsocketCommunicator:
    headers = [(b"origin", origin.encode())] if origin else []
    return WebsocketCommunicator(application, path, headers=headers)


async def refused_with(path: str, origin: str | None = ALLOWED_ORIGIN) -> int:
    """Accepted, then closed: the close code the browser would see."""
    communicator = socket(path, origin)
    connected, _ = await communicator.connect()
    assert connected  # accepted first, so the client learns the code instead of retrying
    message = await communicator.receive_output(timeout=3)
    assert message["type"] == "websocket.close"
    await communicator.wait()
    return message["code"]


@pytest.fixture
def dispatched(mirror):
    return ready_then_dispatched()


async def test_a_valid_token_joins_and_is_counted(dispatched):
    order, _driver = dispatched
    before = (await in_thread(open_socket_counts)).get("tracker", 0)
    communicator = socket(f"/ws/track/{token(order)}/")

    connected, _ = await communicator.connect()

    assert connected
    assert await communicator.receive_nothing(timeout=0.3)
    assert (await in_thread(open_socket_counts))["tracker"] == before + 1
    await communicator.disconnect()
    assert (await in_thread(open_socket_counts))["tracker"] == before


@pytest.mark.parametrize("bad", ["garbage", "a" * 300, "x:y:z", "%00"])
async def test_a_malformed_or_forged_token_is_closed_4001(dispatched, bad):
    assert await refused_with(f"/ws/track/{bad}/") == 4001


async def test_an_expired_link_is_closed_4003(dispatched, settings):
    order, _driver = dispatched
    tracking = token(order)
    await sync_to_async(services.order_transition)(order_id=order.id, to="cancelled", reason="test")
    settings.TRACKING_LINK_HOURS = 0

    assert await refused_with(f"/ws/track/{tracking}/") == 4003


async def test_a_forged_token_is_closed_4001(mirror):
    assert await refused_with("/ws/track/d2fb42ea354149c18951b945d5d1a466:forged-signature/") == 4001


async def test_a_token_for_no_order_is_closed_4004(mirror):
    assert await refused_with(f"/ws/track/{tracking_token_for(uuid.uuid4())}/") == 4004


@pytest.mark.parametrize("origin", ["https://evil.example", "http://127.0.0.1.evil.example", "null",
                                    "http://localhost:8000.evil.example", "http://127.0.0.1:80.evil.example"])
async def test_a_foreign_origin_is_closed_4003(dispatched, origin):
    order, _driver = dispatched

    assert await refused_with(f"/ws/track/{token(order)}/", origin=origin) == 4003


async def test_fragments_arrive_after_a_location_update(dispatched):
    order, driver = dispatched
    communicator = socket(f"/ws/track/{token(order)}/")
    await communicator.connect()

    await in_thread(move, driver, *between(SHOP, HOME, -0.5))
    html = await communicator.receive_from(timeout=5)

    ids = re.findall(r'<\w+ id="(trk-[a-z]+)"[^>]*hx-swap-oob=', html)
    assert ids == ["trk-sync", "trk-hero", "trk-eta", "trk-progress", "trk-driver", "trk-stepper", "trk-map", "trk-cancel"]
    assert 'id="trk-driver-pin"' in html
    assert driver.name in html
    version = int(re.search(r'data-version="(\d+)"', html).group(1))

    await in_thread(advance, order, "out_for_delivery")
    html = await communicator.receive_from(timeout=5)
    assert 'aria-current="step" data-step="out_for_delivery"' in html
    assert int(re.search(r'data-version="(\d+)"', html).group(1)) > version
    await communicator.disconnect()


async def test_only_the_orders_own_group_gets_its_fragments(mirror):
    (mine, _), (other, other_driver) = [await in_thread(ready_then_dispatched) for _ in range(2)]
    communicator = socket(f"/ws/track/{token(mine)}/")
    await communicator.connect()

    await in_thread(move, other_driver, *between(SHOP, HOME, 0.3))

    assert await communicator.receive_nothing(timeout=0.5)
    await communicator.disconnect()


async def test_older_batches_than_already_sent_are_dropped(dispatched):
    order, _driver = dispatched
    communicator = socket(f"/ws/track/{token(order)}/")
    await communicator.connect()
    layer = get_channel_layer()

    for seq, html in [(10, "ten"), (7, "seven"), (10, "ten again"), (11, "eleven")]:
        await layer.group_send(tracker_group(order.id, "en"), {"type": "tracker.fragment", "seq": seq, "html": html})

    assert await communicator.receive_from(timeout=3) == "ten"
    assert await communicator.receive_from(timeout=3) == "eleven"
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()


async def test_with_redis_down_the_handshake_is_refused_1013_not_500(dispatched, own_redis):
    """The channel layer cannot subscribe: the socket is accepted and closed "try again later",
    which the htmx ws extension retries (the tracker polls meanwhile), instead of a failed
    handshake (HTTP 500)."""
    order, _driver = dispatched
    await sync_to_async(own_redis.stop)()
    assert await refused_with(f"/ws/track/{token(order)}/") == 1013
    assert await refused_with(f"/ws/track/{token(order)}/") == 1013  # also with the breaker open


async def test_sockets_per_client_are_capped(dispatched, settings):
    settings.WS_MAX_SOCKETS_PER_CLIENT = 3
    order, _driver = dispatched
    held = [socket(f"/ws/track/{token(order)}/") for _ in range(3)]
    for communicator in held:
        assert (await communicator.connect())[0]
    assert await refused_with(f"/ws/track/{token(order)}/") == 4029
    await held[0].disconnect(timeout=10)
    again = socket(f"/ws/track/{token(order)}/")
    assert (await again.connect())[0]
    assert await again.receive_nothing(timeout=0.3), await again.receive_output()  # room again
    for communicator in [*held[1:], again]:
        await communicator.disconnect()
