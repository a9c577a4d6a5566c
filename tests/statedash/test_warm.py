"""The relay keeps /api/state's cached state warm while somebody asks for it."""
from __future__ import annotations

import threading
import time

import pytest
from django.core.cache import caches
from django.db import connection

from events.relay import run_forever
from statedash import warmup
from statedash.state_cache import STATE_CACHE_KEY
from statedash.warmup import keep_state_warm
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _forget_noting(monkeypatch) -> None:
    # Each process renews the "wanted" key at most every 10 s; Redis is emptied between tests.
    monkeypatch.setattr(warmup, "_wanted_noted_at", float("-inf"))


def _cached_fresh_until() -> float | None:
    value = caches["default"].get(STATE_CACHE_KEY)
    return value[0] if value is not None else None


def test_nothing_is_computed_while_nobody_asks(mirror) -> None:
    keep_state_warm()
    assert _cached_fresh_until() is None


def test_recomputed_shortly_before_it_goes_stale_and_served_fresh(api, mirror, settings, clock) -> None:
    settings.STATE_CACHE_SECONDS = 2
    first = api.get("/api/state").json()
    computed = _cached_fresh_until()
    keep_state_warm()
    assert _cached_fresh_until() == computed  # fresh for ~2 s more: nothing to do yet
    factories.order()
    clock.advance(seconds=0.7)  # now under 1.5 s from stale
    keep_state_warm()
    assert _cached_fresh_until() > computed
    answer = api.get("/api/state").json()
    assert answer["generated_at"] > first["generated_at"]  # the warmed state, not a request's own
    assert answer["stats"]["total_orders"] == first["stats"]["total_orders"] + 1
    assert _cached_fresh_until() - clock().timestamp() > 1.0


def test_the_relay_loop_runs_it(api, mirror, settings) -> None:
    settings.STATE_CACHE_SECONDS = 2
    api.get("/api/state")
    before = _cached_fresh_until()
    stop = threading.Event()

    def relay_loop() -> None:
        try:
            run_forever(interval=0.1, stop=stop)
        finally:
            connection.close()

    relay = threading.Thread(target=relay_loop, daemon=True)
    relay.start()
    try:
        deadline = time.monotonic() + 5
        while _cached_fresh_until() == before and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        relay.join(5)
    assert _cached_fresh_until() > before
