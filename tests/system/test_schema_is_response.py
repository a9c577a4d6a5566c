"""The schema is the response: every key every API response carries is documented in
``/api/schema`` for that operation and status (output serializers do the serializing)."""
from __future__ import annotations

import re
from typing import Any

import pytest
from rest_framework.test import APIClient

from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


def _resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def undocumented(value: Any, schema: dict[str, Any], components: dict[str, Any], path: str = "") -> list[str]:
    """Every place in ``value`` the schema does not declare (empty when it documents it all)."""
    schema = _resolve(schema, components)
    if value is None:
        return []
    for combinator in ("oneOf", "anyOf"):
        if combinator in schema:
            options = [undocumented(value, option, components, path) for option in schema[combinator]]
            return min(options, key=len)
    if "allOf" in schema:
        merged: dict[str, Any] = {"type": "object", "properties": {}}
        for part in schema["allOf"]:
            part = _resolve(part, components)
            merged["properties"].update(part.get("properties", {}))
            if "additionalProperties" in part:
                merged["additionalProperties"] = part["additionalProperties"]
        schema = merged
    if isinstance(value, dict):
        properties = schema.get("properties")
        extra = schema.get("additionalProperties")
        if properties is None and extra in (None, False):
            return [f"{path or '/'}: an object where the schema says {schema.get('type', 'nothing')}"]
        problems = []
        for name, item in value.items():
            if properties and name in properties:
                problems += undocumented(item, properties[name], components, f"{path}/{name}")
            elif isinstance(extra, dict):
                problems += undocumented(item, extra, components, f"{path}/{name}")
            elif extra is True:
                continue
            else:
                problems.append(f"{path}/{name}")
        return problems
    if isinstance(value, list):
        items = schema.get("items")
        if items is None:
            return [f"{path or '/'}: a list where the schema says {schema.get('type', 'nothing')}"]
        return [problem for n, item in enumerate(value) for problem in undocumented(item, items, components, f"{path}/{n}")]
    return []


@pytest.fixture
def schema(anon: APIClient) -> dict[str, Any]:
    return anon.get("/api/schema", HTTP_ACCEPT="application/json").json()


def response_schema(schema: dict[str, Any], method: str, path: str, status: int) -> dict[str, Any]:
    """The schema of ``method path`` answering ``status`` (a concrete path matched to its template)."""
    for template, operations in schema["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template.rstrip("/")) + "/?$"
        if re.match(pattern, path.split("?")[0]) and method.lower() in operations:
            responses = operations[method.lower()]["responses"]
            assert str(status) in responses, f"{method} {template} does not document {status}"
            return responses[str(status)]["content"]["application/json"]["schema"]
    raise AssertionError(f"{method} {path} is not in the schema")


def check(schema: dict[str, Any], method: str, path: str, response: Any) -> None:
    body = response.json()
    problems = undocumented(body, response_schema(schema, method, path, response.status_code), schema["components"]["schemas"])
    assert not problems, f"{method} {path} {response.status_code} carries undocumented keys: {problems}"


def test_every_response_carries_only_documented_keys(api, anon, schema, mirror) -> None:
    restaurant = factories.restaurant()
    item = factories.menu_item(restaurant)
    driver = factories.driver()
    calls = [("GET", "/api/restaurants", None), ("GET", f"/api/restaurants/{restaurant.id}/menu", None)]
    created = api.post("/api/orders", {
        "restaurant": restaurant.id, "items": [{"menu_item": item.id, "quantity": 2}],
        "customer": {"name": "Ada Lovelace", "phone": "+49 30 123456"},
        "delivery_address": {"text": "Torstraße 1", "lat": 52.53, "lng": 13.41}}, format="json")
    assert created.status_code == 201
    check(schema, "POST", "/api/orders", created)
    order_id = created.json()["id"]
    for step in ("confirmed", "preparing", "ready"):
        moved = api.post(f"/api/orders/{order_id}/transition", {"to": step}, format="json")
        check(schema, "POST", f"/api/orders/{order_id}/transition", moved)
    dispatched = api.post(f"/api/orders/{order_id}/transition", {"to": "dispatched", "driver_id": driver.id},
                          format="json")
    check(schema, "POST", f"/api/orders/{order_id}/transition", dispatched)
    located = api.post(f"/api/drivers/{driver.id}/location", {"lat": 52.52, "lng": 13.40, "heading": 90.0,
                                                               "speed_kmh": 20.0}, format="json")
    check(schema, "POST", f"/api/drivers/{driver.id}/location", located)
    calls += [
        ("GET", f"/api/orders/{order_id}", None),
        ("GET", f"/api/orders/{order_id}/delivery", None),
        ("GET", "/api/drivers", None),
        ("GET", "/api/state", None),
        ("GET", "/api/events?limit=3", None),
        ("GET", "/api/orders/not-an-id/delivery", None),  # 400
        ("GET", f"/api/orders/{factories.order().id}/delivery", None),  # 400 not dispatched
    ]
    for method, path, _body in calls:
        check(schema, method, path, api.generic(method, path))
    check(schema, "GET", "/api/state", anon.get("/api/state"))  # 401
    check(schema, "GET", "/healthz", anon.get("/healthz"))


def test_every_webhook_response_carries_only_documented_keys(api, anon, schema, mirror) -> None:
    created = api.post("/api/webhooks", {"url": "https://pos.example.com/hook", "events": ["*"]}, format="json")
    assert created.status_code == 201
    check(schema, "POST", "/api/webhooks", created)
    base = f"/api/webhooks/{created.json()['id']}"
    tested = api.post(f"{base}/test")
    check(schema, "POST", f"{base}/test", tested)
    calls = [("GET", "/api/webhooks"), ("GET", base), ("GET", f"{base}/deliveries"),
             ("POST", f"{base}/rotate-secret"), ("POST", f"{base}/deliveries/{tested.json()['id']}/replay"),
             ("GET", "/api/webhooks/not-an-id"), ("GET", f"{base}/deliveries?state=nope")]
    for method, path in calls:
        check(schema, method, path, api.generic(method, path))
    check(schema, "PATCH", base, api.patch(base, {"active": False}, format="json"))
    check(schema, "POST", f"{base}/test", api.post(f"{base}/test"))  # 409: disabled
    check(schema, "GET", "/api/webhooks", anon.get("/api/webhooks"))  # 401


def test_the_check_sees_an_undocumented_key(schema) -> None:
    components = schema["components"]["schemas"]
    restaurants = response_schema(schema, "GET", "/api/restaurants", 200)
    body = {"results": [{"id": 1, "slug": "x", "name": "X", "address": "", "description": "", "open": True,
                         "prep_minutes": 12, "location": {"lat": 1.0, "lng": 2.0, "alt": 3}}], "leaked": 1}
    assert sorted(undocumented(body, restaurants, components)) == ["/leaked", "/results/0/location/alt"]
