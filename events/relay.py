"""The relay: publishes whatever the outbox still holds, and rebuilds the mirror whenever
Redis comes back empty. One active instance is enough; several are safe (publishing is
idempotent and ordered by WATCH on the stream)."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import redis
from django.db import close_old_connections

from events.publisher import PublishError, mirror_problem, projections_ready, publish_pending, rebuild_projections
from pizzadelivery.infra.redis import breaker, get_redis

logger = logging.getLogger(__name__)

# Housekeeping other apps hand the relay (e.g. keeping /api/state warm), run after each pass
# while Redis answers. A task that fails is logged; the relay goes on.
_tasks: list[Callable[[], object]] = []


def register_relay_task(task: Callable[[], object]) -> None:
    if task not in _tasks:
        _tasks.append(task)


def run_tasks() -> None:
    for task in _tasks:
        try:
            task()
        except Exception:
            logger.exception("relay task %s failed", getattr(task, "__name__", task))


def relay_once() -> int:
    """One pass: rebuild the mirror if Redis lost it, then publish every pending batch."""
    breaker.probe_now()  # the relay is a background worker: it asks Redis itself, at once
    client = get_redis()
    problem = mirror_problem(client)
    if problem:
        logger.warning("%s: rebuilding the mirror and the stream from the database", problem)
        rebuild_projections(reset_stream=True)
    elif not projections_ready(client):
        logger.info("Redis mirror missing: rebuilding it from the database")
        rebuild_projections()
    published = 0
    while True:
        count = publish_pending()
        published += count
        if count == 0:
            return published


def run_forever(*, interval: float = 0.5, stop: threading.Event | None = None) -> None:
    stop = stop or threading.Event()
    healthy = True
    while not stop.is_set():
        close_old_connections()
        try:
            published = relay_once()
            if not healthy:
                logger.info("Redis is back: relay resumed")
            healthy = True
            if published:
                logger.info("relay published %d batch(es)", published)
            run_tasks()
        except (PublishError, redis.RedisError, OSError) as exc:
            if healthy:
                logger.warning("relay waiting for Redis: %s", exc)
            healthy = False
        stop.wait(interval if healthy else min(2.0, interval * 2))
