"""The one Redis client of the process (mirror, stream, locks), built from settings."""
from __future__ import annotations

import threading

import redis
from django.conf import settings
from django.core.signals import setting_changed

# What a Redis call raises when the server is down, stopped or unreachable.
REDIS_ERRORS = (redis.RedisError, OSError)

_lock = threading.Lock()
_clients: dict[str, redis.Redis] = {}


def get_redis() -> redis.Redis:
    url = settings.REDIS_URL
    client = _clients.get(url)
    if client is None:
        with _lock:
            client = _clients.get(url)
            if client is None:
                # Blocking pool: under a burst, threads wait briefly for a connection
                # instead of failing with MaxConnectionsError.
                pool = redis.BlockingConnectionPool.from_url(
                    url,
                    decode_responses=True,
                    socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
                    socket_connect_timeout=settings.REDIS_CONNECT_TIMEOUT,
                    max_connections=64,
                    timeout=2,
                )
                client = redis.Redis(connection_pool=pool)
                _clients[url] = client
    return client


def key(*parts: object) -> str:
    return ":".join([settings.REDIS_KEY_PREFIX, *map(str, parts)])


def _reset(setting: str, **kwargs: object) -> None:
    if setting in {"REDIS_URL", "REDIS_KEY_PREFIX"}:
        with _lock:
            for client in _clients.values():
                client.close()
            _clients.clear()


setting_changed.connect(_reset)
