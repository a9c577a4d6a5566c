"""System tests: a small marketplace with an order in every status, and the helpers the bad-input,
access, escaping and schemathesis tests share."""
from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import User
from django.http import HttpResponse
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from events.publisher import stream_key
from pizzadelivery.infra.redis import get_redis
from pizzadelivery.lifecycle import OrderStatus
from pizzadelivery.mirror import keys
from pizzadelivery.models import Driver, MenuItem, Order, Restaurant
from pizzadelivery.tokens import tracking_token_for
from tests import factories


@dataclass
class World:
    restaurant: Restaurant
    closed: Restaurant
    items: list[MenuItem]
    sold_out: MenuItem
    free_drivers: list[Driver]
    orders: dict[str, Order] = field(default_factory=dict)  # one per status

    def token(self, status: str) -> str:
        return tracking_token_for(self.orders[status].id)

    @property
    def order_ids(self) -> list[str]:
        return [str(order.id) for order in self.orders.values()]

    @property
    def driver_ids(self) -> list[int]:
        return [driver.id for driver in Driver.objects.order_by("id")]


@pytest.fixture
def world(transactional_db, mirror) -> World:
    """Orders in all eight statuses at one pizzeria, drivers free and busy, a closed pizzeria and a
    sold-out dish. Built through the services (events published, mirror filled)."""
    restaurant = factories.restaurant(name="Da Mario")
    items = [factories.menu_item(restaurant, name="Margherita", price="8.50"),
             factories.menu_item(restaurant, name="Diavola", price="10.90")]
    sold_out = factories.menu_item(restaurant, name="Tartufo", price="19.00", is_available=False)
    closed = factories.restaurant(name="Closed Pizzeria", is_open=False)
    factories.menu_item(closed, name="Marinara")
    world = World(restaurant, closed, items, sold_out, [factories.driver(), factories.driver()])
    for status in OrderStatus.values:
        world.orders[status] = factories.order_at(status, restaurant_obj=restaurant)
    return world


# --- clients that answer a crash with the 500 page, as a server would, so a test can list it ----

@pytest.fixture
def integrator(staff) -> APIClient:
    """An integrator with a staff user's API token."""
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=staff)[0].key}")
    return client


@pytest.fixture
def stranger() -> APIClient:
    """No session, no token."""
    return APIClient(raise_request_exception=False)


def browser_client(user: User | None = None, **kwargs: Any) -> Client:
    client = Client(raise_request_exception=False, **kwargs)
    if user is not None:
        client.force_login(user)
    return client


# --- sockets ---------------------------------------------------------------------------------

ORIGIN = (b"origin", b"http://127.0.0.1:8000")  # an allowed Origin (ALLOWED_HOSTS)


def session_cookie(user: User) -> tuple[bytes, bytes]:
    """The Cookie header of a browser logged in as ``user``."""
    client = Client()
    client.force_login(user)
    return b"cookie", f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


# --- "nothing changed": every row of every table, and the Redis mirror and event stream -------

def database_rows() -> dict[str, list[tuple[Any, ...]]]:
    """All rows of every table (sessions aside: a refused request may still start a session)."""
    snapshot = {}
    for model in apps.get_models():
        table = model._meta.db_table
        if table == "django_session" or not model._meta.managed:
            continue
        snapshot[table] = sorted(model.objects.order_by().values_list(), key=repr)
    return snapshot


def redis_state() -> dict[str, Any]:
    """The mirror and the event stream (rate-limit counters and caches may change)."""
    client = get_redis()
    readers = {"hash": client.hgetall, "set": lambda k: sorted(client.smembers(k)), "string": client.get,
               "zset": lambda k: client.zrange(k, 0, -1, withscores=True),
               "stream": lambda k: (client.xlen(k), client.xrevrange(k, count=1))}
    names = [*client.scan_iter(match=f"{keys.prefix()}*"), stream_key(), keys.ready()]
    return {name: readers[client.type(name)](name) for name in names if client.exists(name)}


@pytest.fixture
def unchanged(transactional_db) -> Callable[[], AbstractContextManager[None]]:
    """``with unchanged():`` asserts the block leaves the database and the Redis mirror as they were."""

    @contextmanager
    def check() -> Iterator[None]:
        factories.published()  # what earlier requests committed is published before the snapshot
        rows_before, redis_before = database_rows(), redis_state()
        yield
        rows_after, redis_after = database_rows(), redis_state()
        changed = sorted(table for table in rows_before if rows_before[table] != rows_after[table])
        assert not changed, f"rows changed in {changed}"
        changed = sorted(name for name in redis_before.keys() | redis_after.keys()
                         if redis_before.get(name) != redis_after.get(name))
        assert not changed, f"Redis keys changed: {changed}"

    return check


def error_problem(response: HttpResponse, *, json: bool, statuses: tuple[int, ...] = ()) -> str | None:
    """What is wrong with ``response`` as a clear refusal, or None: a 4xx (one of ``statuses`` if
    given), as JSON ``{"error": code, "detail": text}`` (API) or as an HTML page."""
    status = response.status_code
    if not (status in statuses if statuses else 400 <= status < 500):
        return f"status {status}: {response.content[:200]!r}"
    content_type = response.get("Content-Type", "")
    if not content_type.startswith("application/json" if json else "text/html"):
        return f"status {status} but Content-Type {content_type!r}"
    if json:
        body = response.json()
        if not (isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"]
                and isinstance(body.get("detail"), str) and body["detail"]):
            return f"status {status} but body {body!r}"
    return None


def assert_json_error(response: HttpResponse, *statuses: int) -> dict[str, Any]:
    problem = error_problem(response, json=True, statuses=statuses)
    assert problem is None, problem
    return response.json()


def assert_html_error(response: HttpResponse, *statuses: int) -> str:
    problem = error_problem(response, json=False, statuses=statuses)
    assert problem is None, problem
    return response.content.decode()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The schemathesis run's figures, for the README's reliability section."""
    run = sys.modules.get("tests.system.test_schemathesis")
    if run is None or not run.CASES:
        return
    server_errors = sum(count for status, count in run.STATUSES.items() if status >= 500)
    terminalreporter.write_line(
        f"schemathesis: {sum(run.CASES.values())} cases over {len(run.CASES)} operations, "
        f"{server_errors} responses 5xx; status codes {dict(sorted(run.STATUSES.items()))}")
