"""Channel-layer group sends from synchronous code (views, the relay), on one event loop per
process that lives as long as the process.

``async_to_sync`` would do, but from a plain thread it makes a new event loop per call, and
channels_redis keeps its Redis connections per event loop: every batch's fan-out paid a new
connection (and, for the pub/sub layer, a new subscriber task). Under load that was most of
the push latency (``make bench``: p99 81 ms with 100 sockets, 271 ms with 1,000). Here the
loop, and so the layer's connections, are made once per process.
"""
from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterable
from typing import Any

import redis
from channels.layers import get_channel_layer
from django.conf import settings
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from pizzadelivery.infra.redis import breaker, get_redis

# A Redis that does not answer must not hold a request longer (the layer's async client has no
# socket timeout of its own); a send that times out opens the process's Redis breaker.
SEND_TIMEOUT_SECONDS = 1.0

_loop: asyncio.AbstractEventLoop | None = None
_loop_pid: int | None = None
_guard = threading.Lock()


def _event_loop() -> asyncio.AbstractEventLoop:
    """The process's send loop, started on first use (and again in a forked child, which
    inherits the variable but not the thread)."""
    global _loop, _loop_pid
    with _guard:
        if _loop is None or _loop_pid != os.getpid() or _loop.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="group-sends", daemon=True).start()
            _loop, _loop_pid = loop, os.getpid()
        return _loop


async def _send_all(messages: list[tuple[str, dict[str, Any]]]) -> None:
    layer = get_channel_layer()
    for group, message in messages:
        await layer.group_send(group, message)


def group_send_all(messages: Iterable[tuple[str, dict[str, Any]]]) -> None:
    """Send each ``(group, message)`` in order; returns once all are sent. Raises what the
    layer raises, ``TimeoutError`` after ``SEND_TIMEOUT_SECONDS``, or ``CircuitOpen`` while the
    Redis breaker is open."""
    messages = list(messages)
    if not messages:
        return
    breaker.check()  # Redis failed a moment ago: no send waits for it
    future = asyncio.run_coroutine_threadsafe(_send_all(messages), _event_loop())
    try:
        future.result(SEND_TIMEOUT_SECONDS)
    except TimeoutError as exc:
        future.cancel()
        breaker.failure(exc)
        raise
    except (ConnectionError, OSError, RedisConnectionError, RedisTimeoutError) as exc:
        breaker.failure(exc)
        raise


def _group_channel(group: str) -> str:
    # channels_redis' pub/sub layer publishes a group's messages on this Redis channel.
    prefix = settings.CHANNEL_LAYERS["default"].get("CONFIG", {}).get("prefix", "asgi")
    return f"{prefix}__group__{group}"


def watched_groups(groups: Iterable[str]) -> set[str]:
    """Which of ``groups`` have a socket subscribed in any process (Redis ``PUBSUB NUMSUB``), so a
    fan-out renders nothing nobody watches. With another layer than pub/sub there is no cheap
    way to tell: all of them."""
    groups = list(groups)
    layer = settings.CHANNEL_LAYERS["default"]
    if not groups or not layer["BACKEND"].endswith("RedisPubSubChannelLayer"):
        return set(groups)
    channels = {_group_channel(group): group for group in groups}
    watched: set[str] = set()
    for host in layer.get("CONFIG", {}).get("hosts", []):
        # A dict host is the logical Redis through Sentinel (settings.channel_layer_host).
        url = host if isinstance(host, str) else host.get("address", settings.REDIS_URL)
        client = get_redis() if url == settings.REDIS_URL else redis.Redis.from_url(
            url, socket_timeout=settings.REDIS_SOCKET_TIMEOUT, socket_connect_timeout=settings.REDIS_CONNECT_TIMEOUT)
        watched.update(channels[name if isinstance(name, str) else name.decode()]
                       for name, count in client.pubsub_numsub(*channels) if count)
    return watched
