"""WebSocket plumbing shared by the live pages.

A refused socket is accepted and then closed with a 4xxx code: a browser sees the code (a
handshake refusal would look like a network error, 1006, and htmx would retry forever).
"""
from __future__ import annotations

import asyncio
import functools
from typing import Any
from urllib.parse import urlparse

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from channels.security.websocket import OriginValidator
from channels.utils import await_many_dispatch
from django.conf import settings

from pizzadelivery.infra.redis import REDIS_ERRORS, CircuitOpen, breaker

CLOSE_FORBIDDEN = 4003  # a foreign origin, or a caller whose role may not open this socket
CLOSE_FORBIDDEN_ORIGIN = CLOSE_FORBIDDEN
CLOSE_UNAUTHORIZED = 4001
CLOSE_NOT_FOUND = 4004
CLOSE_TOO_MANY = 4029  # this client holds WS_MAX_SOCKETS_PER_CLIENT sockets already
# The channel layer (Redis) cannot take the socket now: "try again later", a code the htmx ws
# extension retries with backoff (the tracker polls meanwhile), where a failed handshake would
# have been an HTTP 500.
CLOSE_TRY_AGAIN = 1013
# A subscription that takes longer than this is a Redis that does not answer.
LAYER_TIMEOUT_SECONDS = 1.0
LAYER_ERRORS = (*REDIS_ERRORS, asyncio.TimeoutError, TimeoutError)

# Open sockets per client address in this process (one event loop: no lock needed).
_sockets_by_client: dict[str, int] = {}


async def _guarded(call: Any, *args: Any) -> Any:
    """``await call(*args)``, a channel-layer call, behind the process's Redis breaker and with a
    timeout."""
    breaker.check()
    try:
        return await asyncio.wait_for(call(*args), LAYER_TIMEOUT_SECONDS)
    except LAYER_ERRORS as exc:
        if not isinstance(exc, CircuitOpen):
            breaker.failure(exc)
        raise


class FragmentConsumer(AsyncWebsocketConsumer):
    """A live page's socket. Channels runs ``close_old_connections`` in a worker thread before
    every message handler; the fan-out's fragment messages touch no database, so they are
    handled directly: under load that thread hop was a large share of the push latency, and
    it grows with the sockets of a process (one hop per socket per push)."""

    direct_messages: frozenset[str] = frozenset()
    client_address: str | None = None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        """Channels' consumer loop, with the layer's subscription guarded: with Redis down or
        stalled the handshake is answered (accepted, closed 1013) instead of raising (a 500)."""
        self.scope = scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        self.base_send = send
        try:
            self.channel_name = await _guarded(self.channel_layer.new_channel)
        except LAYER_ERRORS:
            message = await receive()
            if message["type"] == "websocket.connect":
                await send({"type": "websocket.accept"})
                await send({"type": "websocket.close", "code": CLOSE_TRY_AGAIN})
            return
        self.channel_receive = functools.partial(self.channel_layer.receive, self.channel_name)
        try:
            await await_many_dispatch([receive, self.channel_receive], self.dispatch)
        except StopConsumer:
            pass
        finally:  # however the socket ends (closed, refused, cancelled), its client has one fewer
            self._release_client()

    async def websocket_connect(self, message: dict[str, Any]) -> None:
        address = (self.scope.get("client") or ("?",))[0]
        if _sockets_by_client.get(address, 0) >= settings.WS_MAX_SOCKETS_PER_CLIENT:
            await self.refuse(CLOSE_TOO_MANY)
            return
        _sockets_by_client[address] = _sockets_by_client.get(address, 0) + 1
        self.client_address = address
        await super().websocket_connect(message)

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        self._release_client()
        await super().websocket_disconnect(message)

    def _release_client(self) -> None:
        if self.client_address is not None:
            left = _sockets_by_client.get(self.client_address, 1) - 1
            if left > 0:
                _sockets_by_client[self.client_address] = left
            else:
                _sockets_by_client.pop(self.client_address, None)
            self.client_address = None

    async def join(self, group: str) -> bool:
        """Join ``group`` on the channel layer; False (and the socket closed 1013, to be retried)
        when Redis cannot take it now."""
        try:
            await _guarded(self.channel_layer.group_add, group, self.channel_name)
        except LAYER_ERRORS:
            await self.refuse(CLOSE_TRY_AGAIN)
            return False
        return True

    async def leave(self, group: str) -> None:
        try:
            await _guarded(self.channel_layer.group_discard, group, self.channel_name)
        except LAYER_ERRORS:
            pass  # the subscription goes with the connection anyway

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Live pages never read what a client sends (the server caps frames at
        WS_MAX_FRAME_BYTES): ignored."""

    async def refuse(self, code: int) -> None:
        """Accept, then close with a 4xxx code: the browser sees why, and htmx's ws extension
        does not retry a 4xxx close (a refused handshake would look like a network error)."""
        await self.accept()
        await self.close(code=code)

    async def dispatch(self, message: dict[str, Any]) -> None:
        if message["type"] in self.direct_messages:
            await getattr(self, get_handler_name(message))(message)
        else:
            await super().dispatch(message)


class CloseAfterAccept(AsyncWebsocketConsumer):
    code = CLOSE_FORBIDDEN_ORIGIN

    async def connect(self) -> None:
        await self.accept()
        await self.close(code=self.code)


class NoSuchSocket(CloseAfterAccept):
    """Any socket path no route matches: closed 4004 (not an exception in the app, a 500)."""

    code = CLOSE_NOT_FOUND


class RefusingOriginValidator(OriginValidator):
    """Channels' origin check against ALLOWED_HOSTS, refusing with a 4003 close."""

    def __init__(self, application: Any) -> None:
        allowed = list(settings.ALLOWED_HOSTS)
        if settings.DEBUG and not allowed:
            allowed = ["localhost", "127.0.0.1", "[::1]"]
        super().__init__(application, allowed)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> Any:
        origin = None
        for name, value in scope.get("headers", []):
            if name == b"origin":
                try:
                    origin = urlparse(value.decode("latin1"))
                    origin.port  # noqa: B018 - "http://localhost:8000.evil.example" has no valid port
                except ValueError:  # UnicodeDecodeError included
                    origin = None
        if self.valid_origin(origin):
            return await self.application(scope, receive, send)
        return await CloseAfterAccept.as_asgi()(scope, receive, send)


# --- open sockets, for the health panel ---------------------------------------------------
# Each server process keeps its own count and mirrors it to one Redis key with a TTL; the
# health check sums the keys. A process that dies leaves its key until the TTL runs out.
import os  # noqa: E402
import socket as _socket  # noqa: E402
import threading  # noqa: E402

import redis as _redis  # noqa: E402

from pizzadelivery.infra.redis import get_redis, key  # noqa: E402

_open_sockets: dict[str, int] = {}
_count_lock = threading.Lock()
SOCKET_COUNT_TTL = 3600


def _process_key() -> str:
    return key("ws", "open", f"{_socket.gethostname()}-{os.getpid()}")


def _processes_key() -> str:
    return key("ws", "processes")


def socket_count_changed(kind: str, delta: int) -> None:
    """Call from a consumer's connect (+1, after accept) and disconnect (-1). Never raises."""
    with _count_lock:
        _open_sockets[kind] = max(0, _open_sockets.get(kind, 0) + delta)
        snapshot = dict(_open_sockets)
    try:
        with get_redis().pipeline(transaction=False) as pipe:
            pipe.hset(_process_key(), mapping=snapshot)
            pipe.expire(_process_key(), SOCKET_COUNT_TTL)
            pipe.sadd(_processes_key(), _process_key())
            pipe.execute()
    except (_redis.RedisError, OSError):
        pass  # a health figure, not worth failing a socket for


def open_socket_counts() -> dict[str, int]:
    """Open sockets by kind, summed over every server process (a set names the processes,
    so this reads a few keys instead of scanning the keyspace)."""
    client = get_redis()
    processes = sorted(client.smembers(_processes_key()))
    with client.pipeline(transaction=False) as pipe:
        for name in processes:
            pipe.hgetall(name)
        counts = pipe.execute()
    totals: dict[str, int] = {}
    gone = [name for name, by_kind in zip(processes, counts) if not by_kind]
    if gone:
        client.srem(_processes_key(), *gone)  # their TTL ran out: the process is gone
    for by_kind in counts:
        for kind, count in by_kind.items():
            totals[kind] = totals.get(kind, 0) + int(count)
    return totals
