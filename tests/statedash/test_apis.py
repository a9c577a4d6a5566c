from __future__ import annotations

import threading
import time

import pytest
from django.contrib.auth.models import User
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from pizzadelivery.lifecycle import OrderStatus
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)

STATE_KEYS = {"generated_at", "orders_by_status", "stats", "drivers", "health", "source"}


def _dataset() -> dict[str, object]:
    driver = factories.driver()
    orders = {status: factories.order_at(status) for status in ("placed", "ready", "out_for_delivery", "delivered")}
    orders["dispatched"] = factories.order_at("dispatched", driver_obj=driver)
    factories.driver(status="offline")
    return orders


def _counts(body: dict) -> dict[str, int]:
    return {status: entry["count"] for status, entry in body["orders_by_status"].items()}


EXPECTED_COUNTS = {**dict.fromkeys(OrderStatus.values, 0), "placed": 1, "ready": 1, "dispatched": 1,
                   "out_for_delivery": 1, "delivered": 1}


@pytest.mark.parametrize("path", ["/api/state", "/api/state/"])
def test_state_from_the_mirror(api, mirror, path) -> None:
    orders = _dataset()
    response = api.get(path)
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == STATE_KEYS
    assert body["source"] == "redis"
    assert _counts(body) == EXPECTED_COUNTS
    assert body["stats"]["total_orders"] == 5
    assert body["stats"]["active_deliveries"] == 2
    assert body["stats"]["completed_today"] == 1
    assert body["orders_by_status"]["dispatched"]["orders"][0]["code"] == orders["dispatched"].code
    jobs = {d["current_assignment"]["code"]: d for d in body["drivers"] if d["current_assignment"]}
    assert set(jobs) == {orders["dispatched"].code, orders["out_for_delivery"].code}
    # three drivers took an order (one of them is free again); the offline one is not listed
    assert sorted(d["status"] for d in body["drivers"]) == ["available", "busy", "busy"]
    assert body["health"]["redis"]["status"] == "ok" and body["health"]["database"]["status"] == "ok"


def test_state_from_the_database_when_the_mirror_is_missing(api) -> None:
    _dataset()  # no mirror fixture: Redis is up but the mirror was never built
    body = api.get("/api/state").json()
    assert body["source"] == "database"
    assert _counts(body) == EXPECTED_COUNTS
    assert body["stats"]["active_deliveries"] == 2


def test_anonymous_and_customers_are_refused(anon, transactional_db) -> None:
    for path in ("/api/state", "/api/state/"):
        response = anon.get(path)
        assert response.status_code == 401
        assert response.json()["error"] == "not_authenticated"
    customer = User.objects.create_user("customer", password="pw-for-tests-only")
    client = APIClient()
    client.force_login(customer)  # a session, but no role
    response = client.get("/api/state")
    assert response.status_code == 403 and response.json()["error"] == "forbidden"
    kitchen = factories.kitchen_user(factories.restaurant())  # a role, but not the fleet's
    assert factories.token_client(kitchen).get("/api/state").status_code == 403


def test_dispatchers_and_admins_get_in_by_session_or_token(staff, transactional_db) -> None:
    session = APIClient()
    session.force_login(staff)
    assert session.get("/api/state").status_code == 200
    dispatcher = factories.dispatcher_user()
    assert factories.token_client(dispatcher).get("/api/state").status_code == 200
    by_session = APIClient()
    by_session.force_login(dispatcher)
    assert by_session.get("/api/state").status_code == 200


def test_cached_for_the_configured_seconds(api, mirror, settings, clock) -> None:
    settings.STATE_CACHE_SECONDS = 1
    first = api.get("/api/state").json()
    factories.order()  # a change inside the cache period is not seen yet...
    second = api.get("/api/state").json()
    assert second["generated_at"] == first["generated_at"]
    assert second["stats"]["total_orders"] == first["stats"]["total_orders"]
    clock.advance(seconds=1.1)
    third = api.get("/api/state").json()  # ...and is after it
    assert third["generated_at"] > first["generated_at"]
    assert third["stats"]["total_orders"] == first["stats"]["total_orders"] + 1


def test_a_stale_state_is_answered_at_once_while_another_caller_recomputes_it(api, mirror, settings,
                                                                             clock) -> None:
    from django.core.cache import caches

    from statedash.state_cache import STATE_CACHE_KEY

    settings.STATE_CACHE_SECONDS = 1
    first = api.get("/api/state").json()
    factories.order()
    clock.advance(seconds=1.1)
    recomputing = caches["default"].lock(f"{STATE_CACHE_KEY}:lock", timeout=10)
    assert recomputing.acquire(blocking=False)  # another process is computing the state
    try:
        started = time.monotonic()
        during = api.get("/api/state").json()
        assert time.monotonic() - started < 0.5  # not queued behind the computation
        assert during["generated_at"] == first["generated_at"]
    finally:
        recomputing.release()
    after = api.get("/api/state").json()  # the lock is free: this caller recomputes it
    assert after["generated_at"] > first["generated_at"]
    assert after["stats"]["total_orders"] == first["stats"]["total_orders"] + 1


def test_rate_limited_per_client_with_retry_after(api, mirror, settings, staff) -> None:
    settings.STATE_RATE_LIMIT = "3/m"
    for _ in range(3):
        assert api.get("/api/state").status_code == 200
    response = api.get("/api/state")
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert response.json()["error"] == "rate_limited"
    other = APIClient()  # another client has its own budget
    other.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=factories.staff_user('other')).key}")
    assert other.get("/api/state").status_code == 200


def test_computed_once_however_many_ask_at_once(staff, mirror, settings) -> None:
    settings.STATE_CACHE_SECONDS = 5
    _dataset()
    token = Token.objects.create(user=staff).key
    callers = 16
    barrier = threading.Barrier(callers)
    results: list[tuple[int, str]] = []

    def ask() -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        try:
            barrier.wait()
            response = client.get("/api/state")
            results.append((response.status_code, response.json()["generated_at"]))
        finally:
            connection.close()

    threads = [threading.Thread(target=ask) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == callers
    assert {status for status, _ in results} == {200}
    # Every computation stamps its own generated_at (microseconds): one value, one computation.
    assert len({generated for _, generated in results}) == 1


def test_redis_stopped_answers_from_the_database_and_stays_rate_limited(own_redis, api, settings) -> None:
    from events.publisher import rebuild_projections

    rebuild_projections()
    _dataset()
    assert api.get("/api/state").json()["source"] == "redis"
    settings.STATE_RATE_LIMIT = "3/m"
    settings.STATE_CACHE_SECONDS = 5
    own_redis.stop()

    started = time.monotonic()
    response = api.get("/api/state")
    assert time.monotonic() - started < 2.0  # short Redis timeouts: degraded, not stuck
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["source"] == "database"
    assert _counts(body) == EXPECTED_COUNTS
    assert body["health"]["redis"]["status"] == "down"
    assert body["health"]["channel_layer"]["status"] == "down"
    assert body["health"]["websockets"]["open"] is None
    # The rate limit moved to process memory: with Redis down a client still gets 3 a minute.
    assert api.get("/api/state").status_code == 200
    assert api.get("/api/state").status_code == 200
    limited = api.get("/api/state")
    assert limited.status_code == 429 and limited["Retry-After"]
    assert limited.json()["error"] == "rate_limited"

    own_redis.start()  # Redis is back, empty: until the relay rebuilds the mirror, the database answers
    settings.STATE_RATE_LIMIT = "600/m"
    assert api.get("/api/state").status_code == 200


def test_schema_documents_the_state(anon, transactional_db) -> None:
    schema = anon.get("/api/schema", HTTP_ACCEPT="application/json").json()
    path = next(p for p in schema["paths"] if p.rstrip("/") == "/api/state")
    operation = schema["paths"][path]["get"]
    assert {"200", "401", "403", "429"} <= set(operation["responses"])
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert set(schema["components"]["schemas"][ref]["properties"]) == STATE_KEYS
