"""The API as its docs teach it: every operation with a summary, a description saying who may
call it, every status it can return with its codes, an example; the lifecycle, roles and
``X-Correlation-ID`` in the schema itself; ``/healthz``; one webhook payload schema per event type."""
from __future__ import annotations

from typing import Any

import pytest

from events.registry import EVENT_TYPES
from pizzadelivery.lifecycle import OrderStatus

pytestmark = pytest.mark.django_db

PUBLIC = {("get", "/api/restaurants"), ("get", "/api/restaurants/{restaurant_id}/menu"), ("get", "/healthz")}


@pytest.fixture
def schema(anon) -> dict[str, Any]:
    return anon.get("/api/schema", HTTP_ACCEPT="application/json").json()


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path.rstrip("/"), operation) for path, item in schema["paths"].items()
            for method, operation in item.items() if method in ("get", "post", "patch", "put", "delete")]


def test_every_operation_is_documented(schema) -> None:
    found = operations(schema)
    assert len(found) >= 20
    for method, path, operation in found:
        where = f"{method.upper()} {path}"
        assert operation.get("summary"), where
        assert "**Who may:**" in operation.get("description", ""), where
        responses = operation["responses"]
        assert any(status.startswith("2") for status in responses), where
        if (method, path) not in PUBLIC:
            assert {"401", "403"} <= set(responses), where
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                assert "`" in response.get("description", ""), f"{where} {status} names no error code"
        examples = [example for content in
                    [*(r.get("content", {}).get("application/json", {}) for r in responses.values()),
                     operation.get("requestBody", {}).get("content", {}).get("application/json", {})]
                    for example in content.get("examples", {})]
        assert examples, f"{where} has no example"
        names = [parameter["name"] for parameter in operation.get("parameters", [])]
        assert "X-Correlation-ID" in names, where


def test_the_schema_explains_the_lifecycle_roles_and_correlation_ids(schema) -> None:
    text = schema["info"]["description"]
    for status in OrderStatus.values:
        assert f"`{status}`" in text, status
    for heading in ("## Authentication and roles", "## Order lifecycle", "## Errors", "## Correlation ids",
                    "## Webhooks"):
        assert heading in text
    assert "X-Correlation-ID" in text and "dispatchers" in text and "restaurant staff" in text


def test_healthz_and_every_webhook_path_are_in_the_schema(schema) -> None:
    paths = {path.rstrip("/") for path in schema["paths"]}
    assert {"/healthz", "/api/webhooks", "/api/webhooks/{webhook_id}", "/api/webhooks/{webhook_id}/rotate-secret",
            "/api/webhooks/{webhook_id}/test", "/api/webhooks/{webhook_id}/deliveries",
            "/api/webhooks/{webhook_id}/deliveries/{delivery_id}/replay"} <= paths


def test_one_webhook_payload_schema_per_event_type(schema) -> None:
    callbacks = schema["paths"]["/api/webhooks/"]["post"]["callbacks"]
    assert set(callbacks) == set(EVENT_TYPES) | {"webhook.test"}
    components = schema["components"]["schemas"]
    for name, event_type in EVENT_TYPES.items():
        (item,) = callbacks[name].values()
        body = item["post"]["requestBody"]["content"]["application/json"]["schema"]
        message = components[body["$ref"].rsplit("/", 1)[-1]]
        assert message["properties"]["type"]["enum"] == [name]
        data = components[message["properties"]["data"]["$ref"].rsplit("/", 1)[-1]]
        payload = components[data["properties"]["payload"]["$ref"].rsplit("/", 1)[-1]]
        assert set(payload["properties"]) == set(event_type.fields), name
        assert "webhook-signature" in item["post"]["description"]
