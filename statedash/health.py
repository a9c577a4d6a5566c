"""Health of each dependency, for ``/healthz`` and the ``health`` part of the system state.

Every check answers within Redis' short socket timeouts and never raises: a dependency that
cannot be reached is reported ``down``, which is the point of asking. Statuses are ``ok``,
``degraded`` (works, but a dispatcher should look) and ``down``; the dashboard shows them
green, amber and red.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import redis
from django.conf import settings
from django.db import DatabaseError, connection

from events.selectors import outbox_backlog
from pizzadelivery.infra.redis import REDIS_ERRORS, get_redis
from pizzadelivery.infra.ws import open_socket_counts
from pizzadelivery.mirror.readers import is_ready as mirror_ready

OK, DEGRADED, DOWN = "ok", "degraded", "down"
# A batch normally leaves the outbox within milliseconds of its commit; one still waiting
# after these many seconds means the relay (or Redis) is not keeping up.
RELAY_DEGRADED_AFTER_S = 5
RELAY_DOWN_AFTER_S = 60


def _timed(check: Callable[[], object]) -> float:
    started = time.perf_counter()
    check()
    return round((time.perf_counter() - started) * 1000, 2)


def redis_health() -> dict[str, Any]:
    try:
        client = get_redis()
        latency = _timed(client.ping)
        ready = mirror_ready(client)
    except REDIS_ERRORS:
        return {"status": DOWN, "latency_ms": None, "mirror_ready": False}
    # Up but not yet rebuilt (it restarted empty): readers use the database meanwhile.
    return {"status": OK if ready else DEGRADED, "latency_ms": latency, "mirror_ready": ready}


def database_health() -> dict[str, Any]:
    def select_one() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()

    try:
        return {"status": OK, "latency_ms": _timed(select_one), "vendor": connection.vendor}
    except DatabaseError:
        return {"status": DOWN, "latency_ms": None, "vendor": connection.vendor}


def channel_layer_health() -> dict[str, Any]:
    """Ping each Redis the channel layer publishes through (synchronously, with the short
    timeouts: the layer's own async client has none and could hang a request)."""
    layer = settings.CHANNEL_LAYERS.get("default", {})
    hosts = layer.get("CONFIG", {}).get("hosts", [])
    backend = layer.get("BACKEND", "").rsplit(".", 1)[-1]
    if not hosts:  # an in-memory layer: alive as long as this process is
        return {"status": OK, "backend": backend, "latency_ms": 0.0}
    latencies = []
    for host in hosts:
        # A dict host is the logical Redis through Sentinel (settings.channel_layer_host).
        url = host if isinstance(host, str) else host.get("address", settings.REDIS_URL)
        shared = url == settings.REDIS_URL  # the process's own client, behind its breaker
        client = get_redis() if shared else redis.Redis.from_url(
            url, socket_timeout=settings.REDIS_SOCKET_TIMEOUT, socket_connect_timeout=settings.REDIS_CONNECT_TIMEOUT)
        try:
            latencies.append(_timed(client.ping))
        except REDIS_ERRORS:
            return {"status": DOWN, "backend": backend, "latency_ms": None}
        finally:
            if not shared:
                client.close()
    return {"status": OK, "backend": backend, "latency_ms": max(latencies)}


def relay_health(now: datetime) -> dict[str, Any]:
    """The outbox backlog: batches committed but not yet published to Redis."""
    try:
        backlog = outbox_backlog()
    except DatabaseError:
        return {"status": DOWN, "pending_batches": None, "oldest_pending_age_seconds": None}
    oldest = backlog["oldest_pending_at"]
    age = round(max(0.0, (now - oldest).total_seconds()), 1) if isinstance(oldest, datetime) else None
    if age is None or age < RELAY_DEGRADED_AFTER_S:
        status = OK
    elif age < RELAY_DOWN_AFTER_S:
        status = DEGRADED
    else:
        status = DOWN
    return {"status": status, "pending_batches": backlog["pending_batches"], "oldest_pending_age_seconds": age}


def websocket_health() -> dict[str, Any]:
    """Open sockets over every server process (counted in Redis: unknown while it is down)."""
    try:
        by_kind = open_socket_counts()
    except REDIS_ERRORS:
        return {"status": DEGRADED, "open": None, "by_kind": {}}
    return {"status": OK, "open": sum(by_kind.values()), "by_kind": dict(sorted(by_kind.items()))}


def dependencies() -> dict[str, dict[str, Any]]:
    """What ``/healthz`` reports: the services this process needs to do its work."""
    return {"database": database_health(), "redis": redis_health(), "channel_layer": channel_layer_health()}


def system_health(now: datetime) -> dict[str, dict[str, Any]]:
    """The dependencies plus what a dispatcher watches: relay backlog and open sockets."""
    return {**dependencies(), "relay": relay_health(now), "websockets": websocket_health()}


def overall(checks: dict[str, dict[str, Any]]) -> str:
    statuses = {check["status"] for check in checks.values()}
    return DOWN if DOWN in statuses else DEGRADED if DEGRADED in statuses else OK
