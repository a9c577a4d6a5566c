"""Hostile clients against real servers (uvicorn for ASGI, granian for WSGI, as production runs
them): huge and endless bodies, large socket frames, a forged X-Forwarded-For, bursts that
used to leave database connections behind."""
from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests
import websockets
from django.db import connection

from pizzadelivery.tokens import tracking_token_for
from tests import factories
from tests.conftest import LiveServer

pytestmark = pytest.mark.django_db(transaction=True)

LIMIT = 64 * 1024  # settings.MAX_BODY_BYTES


@pytest.fixture
def servers(transactional_db, mirror) -> Iterator[dict[str, LiveServer]]:
    started = {"uvicorn": LiveServer().start(), "granian": LiveServer(wsgi=True).start()}
    yield started
    for server in started.values():
        server.stop()


def _raw(server: LiveServer, head: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    sock.sendall(head.encode())
    return sock


def _status_of(sock: socket.socket) -> tuple[int, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    match = re.match(rb"HTTP/1\.[01] (\d{3})", data)
    assert match, data[:200]
    length = re.search(rb"(?i)content-length: (\d+)", data)
    while length and len(data.split(b"\r\n\r\n", 1)[1]) < int(length.group(1)):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    # A chunked body (granian streams it) ends with its zero-length chunk: read up to there.
    while not length and re.search(rb"(?i)transfer-encoding: chunked", data) and not data.endswith(b"0\r\n\r\n"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return int(match.group(1)), data


@pytest.mark.parametrize("kind", ["uvicorn", "granian"])
def test_a_huge_declared_body_is_refused_from_its_headers(servers, kind: str) -> None:
    sock = _raw(servers[kind], "POST /api/orders HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                               "Content-Length: 300000000\r\n\r\n")
    started = time.monotonic()
    status, data = _status_of(sock)  # not one byte of the body sent
    sock.close()
    assert status == 413 and b"payload_too_large" in data, data[:300]
    assert time.monotonic() - started < 2


def test_a_chunked_body_is_refused_after_the_first_bytes_past_the_limit(servers) -> None:
    sock = _raw(servers["uvicorn"], "POST /api/orders HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
                                    "\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"x" * 16384
    sent, refused_at = 0, None
    sock.settimeout(0.2)
    try:
        while sent < 50 * 1024 * 1024:
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
            try:
                if sock.recv(1, socket.MSG_PEEK):
                    refused_at = sent
                    break
            except (socket.timeout, BlockingIOError):
                pass
    except (BrokenPipeError, ConnectionResetError):
        refused_at = sent
    sock.settimeout(5)
    status, data = _status_of(sock)
    sock.close()
    assert status == 413 and b"payload_too_large" in data
    assert refused_at is not None and refused_at <= LIMIT + 4 * len(chunk), refused_at


def test_socket_frames_are_capped(servers) -> None:
    order = factories.order_at("dispatched")
    url = servers["uvicorn"].url.replace("http", "ws") + f"/ws/track/{tracking_token_for(order.id)}/"

    async def send_big_frame() -> int | None:
        async with websockets.connect(url, origin="http://127.0.0.1:8000", max_size=None) as ws:
            await ws.send("x" * 64 * 1024)
            try:
                await asyncio.wait_for(ws.recv(), 5)
            except websockets.ConnectionClosed as closed:
                return closed.rcvd.code if closed.rcvd else None
            return None

    assert asyncio.run(send_big_frame()) == 1009  # "message too big", before it is buffered


def test_sockets_decline_compression_by_default(servers) -> None:
    """Browsers offer permessage-deflate; the server declines it (WS_PER_MESSAGE_DEFLATE=0): a
    compressor per socket is most of an idle socket's memory."""
    order = factories.order_at("dispatched")
    url = servers["uvicorn"].url.replace("http", "ws") + f"/ws/track/{tracking_token_for(order.id)}/"

    async def extensions() -> tuple[str | None, str | None]:
        async with websockets.connect(url, origin="http://127.0.0.1:8000", compression="deflate") as ws:
            return ws.request.headers.get("Sec-WebSocket-Extensions"), ws.response.headers.get("Sec-WebSocket-Extensions")

    offered, accepted = asyncio.run(extensions())
    assert offered and "permessage-deflate" in offered
    assert accepted is None


# --- X-Forwarded-For ---------------------------------------------------------------------------

def _checkout(base: str, slug: str, item_id: int, forwarded_for: str) -> int:
    browser = requests.Session()
    browser.get(f"{base}/restaurants/{slug}/", timeout=5)
    csrf = {"X-CSRFToken": browser.cookies["csrftoken"], "X-Forwarded-For": forwarded_for}
    browser.post(f"{base}/restaurants/{slug}/cart/add/", data={"item": item_id}, headers=csrf, timeout=5)
    return browser.post(f"{base}/restaurants/{slug}/checkout/", headers=csrf, allow_redirects=False, timeout=5,
                        data={"name": "Grace Hopper", "phone": "+49 30 555 0199", "address": "Lychener Straße 12",
                              "district": "prenzlauer-berg"}).status_code


@pytest.mark.parametrize("wsgi", [False, True], ids=["uvicorn", "granian"])
def test_x_forwarded_for_is_believed_only_from_forwarded_allow_ips(transactional_db, mirror, wsgi: bool) -> None:
    restaurant = factories.restaurant(slug="forno-xff")
    item = factories.menu_item(restaurant)
    limited = {"RATELIMIT_ENABLE": "1", "CHECKOUT_RATE_LIMIT": "2/m"}
    server = LiveServer(limited, wsgi=wsgi).start()  # FORWARDED_ALLOW_IPS unset: trust nobody
    try:
        statuses = [_checkout(server.url, restaurant.slug, item.id, f"203.0.113.{n}") for n in range(3)]
    finally:
        server.stop()
    assert statuses == [302, 302, 429], statuses  # a new header each time is still the same client

    behind_proxy = LiveServer({**limited, "FORWARDED_ALLOW_IPS": "127.0.0.1"}, wsgi=wsgi).start()
    try:
        statuses = [_checkout(behind_proxy.url, restaurant.slug, item.id, f"198.51.100.{n}") for n in range(3)]
    finally:
        behind_proxy.stop()
    assert statuses == [302, 302, 302], statuses  # the trusted proxy's word: three clients


# --- database connections under the ASGI server -------------------------------------------------

def _database_handles(pid: int) -> int:
    process = psutil.Process(pid)
    if connection.vendor == "sqlite":
        name = Path(connection.settings_dict["NAME"]).name
        return sum(1 for opened in process.open_files() if Path(opened.path).name == name)
    port = int(connection.settings_dict.get("PORT") or 5432)
    return sum(1 for conn in process.net_connections(kind="inet") if conn.raddr and conn.raddr.port == port)


def test_database_connections_under_the_asgi_server_stay_bounded(servers) -> None:
    server = servers["uvicorn"]
    order = factories.order_at("dispatched")
    path = f"{server.url}/api/orders/{order.id}?token={tracking_token_for(order.id)}"  # a database read

    def burst() -> None:
        with requests.Session() as session:
            for _ in range(15):
                assert session.get(path, timeout=10).status_code == 200

    for _ in range(4):
        threads = [threading.Thread(target=burst) for _ in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    time.sleep(0.5)
    handles = _database_handles(server.process.pid)
    print(f"\nopen database handles of the ASGI server after 600 requests in bursts: {handles}")
    assert handles <= 10, handles
