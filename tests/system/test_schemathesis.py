"""Schemathesis against /api/schema: every operation, 1,000+ generated cases in all.

Each response must not be a 5xx, must have a status code, content type and body the schema
documents for that operation. Cases run in-process through the WSGI app, as an integrator
(a staff user's API token), on a marketplace with an order in every status. Generated ids are
mostly junk, so a share of the cases are given ids that exist (orders, drivers, restaurants,
menu items, tracking tokens): those reach the code behind the id checks.

Deterministic for CI: Hypothesis is derandomized and keeps no example database.
"""
from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

import pizzadelivery.wsgi
from pizzadelivery.tokens import tracking_token_for
from tests.system.conftest import World

pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLES_PER_OPERATION = 100
MINIMUM_CASES = 1000
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

schema = schemathesis.openapi.from_wsgi("/api/schema", pizzadelivery.wsgi.application)

# What exists in this test's database, for the hooks below (filled by the `known` fixture).
KNOWN: dict[str, list[Any]] = {}
# Cases run per operation and responses per status code; reported by tests/system/conftest.py.
CASES: Counter[str] = Counter()
STATUSES: Counter[int] = Counter()


@pytest.fixture(autouse=True)
def known(world: World, settings) -> World:
    settings.RATELIMIT_ENABLE = False  # the fuzzer is one client sending thousands of requests
    KNOWN.clear()
    KNOWN.update(
        order_id=world.order_ids, driver_id=world.driver_ids,
        restaurant_id=[world.restaurant.id, world.closed.id],
        menu_item=[item.id for item in world.items] + [world.sold_out.id],
        restaurant=[world.restaurant.id, world.closed.id],
        orderable=[item.id for item in world.items],
        token=[tracking_token_for(order_id) for order_id in world.order_ids],
    )
    return world


@pytest.fixture
def integrator_headers(staff) -> dict[str, str]:
    return {"Authorization": f"Token {Token.objects.create(user=staff).key}"}


def _plant(value: Any, names: tuple[str, ...], draw: st.DrawFn) -> Any:
    """Replace, at random, the generated values named ``names`` by ids that exist (as strings
    where the generated value is a string: path and query parameters)."""
    if not isinstance(value, dict):
        return value
    planted = dict(value)
    for name in names:
        if name in planted and KNOWN.get(name) and draw(st.booleans()):
            known = draw(st.sampled_from(KNOWN[name]))
            planted[name] = str(known) if isinstance(planted[name], str) else known
    return planted


def _orderable(body: dict[str, Any], draw: st.DrawFn) -> dict[str, Any]:
    """The generated order with an open pizzeria, dishes on its menu and an address in reach, so
    that orders get placed too (generated ids almost never name a pizzeria). The closed pizzeria
    and the sold-out dish come in through ``_plant``."""
    lines = draw(st.lists(st.fixed_dictionaries({"menu_item": st.sampled_from(KNOWN["orderable"]),
                                                 "quantity": st.integers(1, 50)}), min_size=1, max_size=3))
    address = body.get("delivery_address") if isinstance(body.get("delivery_address"), dict) else {}
    return {**body, "restaurant": KNOWN["restaurant_id"][0], "items": lines,
            "delivery_address": {**address, "lat": draw(st.floats(52.50, 52.54)),
                                 "lng": draw(st.floats(13.38, 13.43))}}


@st.composite
def _with_known_ids(draw: st.DrawFn, case: schemathesis.Case) -> schemathesis.Case:
    case.path_parameters = _plant(case.path_parameters, ("order_id", "driver_id", "restaurant_id"), draw)
    case.query = _plant(case.query, ("order_id", "token"), draw)
    if isinstance(case.body, dict):
        body = _plant(case.body, ("driver_id", "restaurant"), draw)
        if isinstance(body.get("items"), list):
            body["items"] = [_plant(line, ("menu_item",), draw) for line in body["items"]]
        if "items" in body and draw(st.booleans()):
            body = _orderable(body, draw)
        case.body = body
    return case


@schema.hook
def flatmap_case(context: schemathesis.HookContext, case: schemathesis.Case) -> st.SearchStrategy:
    return _with_known_ids(case)


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, derandomize=True, database=None, deadline=None,
          suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case: schemathesis.Case, integrator_headers: dict[str, str]) -> None:
    response = case.call(headers=integrator_headers)
    CASES[case.operation.label] += 1
    STATUSES[response.status_code] += 1
    case.validate_response(response, checks=CHECKS)


def test_cases_ran_over_every_operation() -> None:
    """Runs after the generated tests (same module, declared after them)."""
    operations = {result.ok().label for result in schema.get_all_operations()}
    if set(CASES) != operations:
        pytest.skip("only part of the schemathesis run was selected")
    assert sum(CASES.values()) >= MINIMUM_CASES, CASES
    assert not any(status >= 500 for status in STATUSES), STATUSES
