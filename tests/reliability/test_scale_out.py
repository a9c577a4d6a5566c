"""Two server processes and a relay over one database and one Redis act as one."""
from __future__ import annotations

import asyncio
import json
import urllib.request

import pytest
import websockets

from events.publisher import rebuild_projections
from pizzadelivery.tokens import tracking_token_for
from tests import factories

pytestmark = pytest.mark.slow


def _call(url: str, token: str, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, method="POST" if body is not None else "GET",
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"Token {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


async def _first_push_after(socket_url: str, origin: str, write) -> str:
    async with websockets.connect(socket_url, origin=origin, open_timeout=10) as socket:
        await asyncio.sleep(0.3)  # joined the group
        await asyncio.get_running_loop().run_in_executor(None, write)
        return await asyncio.wait_for(socket.recv(), timeout=10)


def test_a_write_on_one_server_reaches_a_socket_on_the_other(stack, token) -> None:
    driver = factories.driver()
    order = factories.order_at("dispatched", driver_obj=driver)
    rebuild_projections()
    first, second = stack.server(), stack.server()
    stack.relay()
    socket_url = f"ws://127.0.0.1:{second.port}/ws/track/{tracking_token_for(order.id)}/"

    def move_driver_on_the_first_server() -> None:
        status, _ = _call(f"{first.url}/api/drivers/{driver.id}/location", token, {"lat": 52.5215, "lng": 13.4065})
        assert status in (200, 202)

    pushed = asyncio.run(_first_push_after(socket_url, second.url, move_driver_on_the_first_server))
    assert order.code in pushed or str(order.id) in pushed or "hx-swap-oob" in pushed

    _, state_a = _call(f"{first.url}/api/state", token)
    _, state_b = _call(f"{second.url}/api/state", token)
    counts = lambda state: {s: v["count"] for s, v in state["orders_by_status"].items()}  # noqa: E731
    assert counts(state_a) == counts(state_b)
    assert state_a["stats"]["active_deliveries"] == state_b["stats"]["active_deliveries"] == 1
    assert state_a["source"] == state_b["source"] == "redis"
