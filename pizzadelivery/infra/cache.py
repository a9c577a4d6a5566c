"""A cache that uses Redis and falls back to process memory while Redis is down.

Rate limits count in Redis so that every server process shares one budget per client; when
Redis is unreachable the count moves to process memory, so limits still hold (per process)
instead of either blocking everyone or letting everything through.
"""
from __future__ import annotations

from typing import Any

from django.core.cache import caches
from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache
from django_redis.exceptions import ConnectionInterrupted
from django_redis.pool import ConnectionFactory
from redis import Redis
from redis.exceptions import RedisError

from pizzadelivery.infra.redis import get_raw_redis


class GuardedConnectionFactory(ConnectionFactory):
    """django-redis on the process's own Redis client: the same breaker, and Sentinel when
    configured (the cache's LOCATION is then only a name)."""

    def connect(self, url: str) -> Redis:
        return get_raw_redis()

    def disconnect(self, connection: Redis) -> None:
        pass  # shared with the rest of the process


class FailoverCache(BaseCache):
    def __init__(self, location: str, params: dict[str, Any]) -> None:
        super().__init__(params)
        options = params.get("OPTIONS", {})
        self._primary_alias = options["primary"]
        self._fallback_alias = options["fallback"]

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        primary = caches[self._primary_alias]
        try:
            client = getattr(primary, "client", None)
            if client is not None:
                # django-redis swallows errors when IGNORE_EXCEPTIONS is on; ask the raw
                # client so a failure is seen here and sent to the fallback.
                return getattr(client, method)(*args, **kwargs)
            return getattr(primary, method)(*args, **kwargs)
        except (ConnectionInterrupted, RedisError, OSError):
            return getattr(caches[self._fallback_alias], method)(*args, **kwargs)

    def add(self, key: str, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        return self._call("add", key, value, timeout=timeout, version=version)

    def get(self, key: str, default: Any = None, version: int | None = None) -> Any:
        return self._call("get", key, default=default, version=version)

    def set(self, key: str, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> None:
        self._call("set", key, value, timeout=timeout, version=version)

    def incr(self, key: str, delta: int = 1, version: int | None = None) -> int:
        return self._call("incr", key, delta=delta, version=version)

    def delete(self, key: str, version: int | None = None) -> bool:
        return self._call("delete", key, version=version)

    def get_many(self, keys: list[str], version: int | None = None) -> dict[str, Any]:
        return self._call("get_many", keys, version=version)

    def clear(self) -> None:
        caches[self._fallback_alias].clear()
