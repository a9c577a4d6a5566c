"""The Redis clients of the process (mirror, stream, locks, cache), built from settings.

One logical Redis: ``REDIS_URL``, or with ``REDIS_SENTINELS`` the master that Sentinel names
``REDIS_SENTINEL_MASTER`` (every connection asks the sentinels where the master is, so after a
failover new connections go to the new one). Every connection goes through the process's
circuit breaker (``pizzadelivery.infra.breaker``): a Redis that failed a moment ago is not
waited for again until a background probe finds it answering.
"""
from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlparse

import redis
from django.conf import settings
from django.core.signals import setting_changed
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelManagedConnection

from pizzadelivery.infra.breaker import CircuitBreaker, CircuitOpen

# What a Redis call raises when the server is down, stopped or unreachable (CircuitOpen is a
# redis.ConnectionError: a skipped call looks like a failed one to every caller).
REDIS_ERRORS = (redis.RedisError, OSError)
__all__ = ["REDIS_ERRORS", "CircuitOpen", "breaker", "get_redis", "get_raw_redis", "key"]


class _Guarded:
    """A connection that fails at once while the breaker is open, and opens it when a call
    finds Redis unreachable or silent (not on a command error such as WRONGTYPE)."""

    def connect(self, *args: Any, **kwargs: Any) -> Any:
        breaker.check()
        try:
            return super().connect(*args, **kwargs)  # type: ignore[misc]
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            if not isinstance(exc, CircuitOpen):
                breaker.failure(exc)
            raise

    def send_packed_command(self, *args: Any, **kwargs: Any) -> Any:
        breaker.check()
        try:
            return super().send_packed_command(*args, **kwargs)  # type: ignore[misc]
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            breaker.failure(exc)
            raise

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().read_response(*args, **kwargs)  # type: ignore[misc]
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            breaker.failure(exc)
            raise


class GuardedConnection(_Guarded, redis.Connection):
    pass


class GuardedUnixConnection(_Guarded, redis.UnixDomainSocketConnection):
    pass


class GuardedSentinelConnection(_Guarded, SentinelManagedConnection):
    pass


def _connection_kwargs(*, decode: bool, timeout: float | None = None) -> dict[str, Any]:
    return {
        "decode_responses": decode,
        "socket_timeout": timeout or settings.REDIS_SOCKET_TIMEOUT,
        "socket_connect_timeout": min(timeout or settings.REDIS_CONNECT_TIMEOUT, settings.REDIS_CONNECT_TIMEOUT),
        # No retries: redis-py's default retries with a backoff of up to seconds; a failed call
        # is answered from the database instead, and the breaker decides when to ask again.
        "retry": Retry(NoBackoff(), 0),
    }


def _db() -> int:
    path = urlparse(settings.REDIS_URL).path.strip("/") if settings.REDIS_URL else ""
    return int(path) if path.isdigit() else 0


def sentinel_manager() -> Sentinel:
    timeouts = {"socket_timeout": settings.REDIS_SOCKET_TIMEOUT,
                "socket_connect_timeout": settings.REDIS_CONNECT_TIMEOUT}
    return Sentinel(settings.REDIS_SENTINELS, sentinel_kwargs=timeouts, **timeouts)


def build_client(*, decode: bool, guarded: bool = True, timeout: float | None = None,
                 max_connections: int = 64) -> redis.Redis:
    """A new client of the one logical Redis (through Sentinel when configured)."""
    kwargs = _connection_kwargs(decode=decode, timeout=timeout)
    if settings.REDIS_SENTINELS:
        connection_class = GuardedSentinelConnection if guarded else SentinelManagedConnection
        return sentinel_manager().master_for(settings.REDIS_SENTINEL_MASTER, connection_class=connection_class,
                                             db=_db(), max_connections=max_connections, **kwargs)
    unix = settings.REDIS_URL.startswith("unix://")
    if guarded:
        connection_class = GuardedUnixConnection if unix else GuardedConnection
    else:
        connection_class = redis.UnixDomainSocketConnection if unix else redis.Connection
    # Blocking pool: under a burst, threads wait briefly for a connection instead of failing
    # with MaxConnectionsError.
    pool = redis.BlockingConnectionPool.from_url(settings.REDIS_URL, connection_class=connection_class,
                                                 max_connections=max_connections, timeout=2, **kwargs)
    return redis.Redis(connection_pool=pool)


PROBE_TIMEOUT = 0.25


def _probe() -> None:
    client = build_client(decode=True, guarded=False, timeout=PROBE_TIMEOUT, max_connections=2)
    try:
        client.ping()
    finally:
        client.close()


breaker = CircuitBreaker("redis", _probe)

_lock = threading.Lock()
_clients: dict[bool, redis.Redis] = {}


def _client(decode: bool) -> redis.Redis:
    client = _clients.get(decode)
    if client is None:
        with _lock:
            client = _clients.get(decode)
            if client is None:
                client = _clients[decode] = build_client(decode=decode)
    return client


def get_redis() -> redis.Redis:
    """The process's client (text replies): mirror, stream, locks, socket counts."""
    return _client(True)


def get_raw_redis() -> redis.Redis:
    """The same Redis with byte replies (the cache stores pickles)."""
    return _client(False)


def key(*parts: object) -> str:
    return ":".join([settings.REDIS_KEY_PREFIX, *map(str, parts)])


def reset_clients() -> None:
    with _lock:
        for client in _clients.values():
            client.close()
        _clients.clear()
    breaker.reset()


def _reset(setting: str, **kwargs: object) -> None:
    if setting in {"REDIS_URL", "REDIS_KEY_PREFIX", "REDIS_SENTINELS", "REDIS_SENTINEL_MASTER"}:
        reset_clients()


setting_changed.connect(_reset)
