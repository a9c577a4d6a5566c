"""``/api/webhooks``: who may, the caller's own endpoints only, the secret shown once, the
attempt log's keys, errors as JSON."""
from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from pizzadelivery.webhooks.models import Endpoint
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)

HOOK = {"url": "https://pos.example.com/hooks/pizzadelivery", "events": ["order.placed", "order.delivered"]}


def test_who_may_register_an_endpoint(transactional_db) -> None:
    shop = factories.restaurant()
    driver = factories.driver()
    clients = {
        "anonymous": (APIClient(), 401, "not_authenticated"),
        "plain": (factories.token_client(factories.plain_user()), 403, "forbidden"),
        "driver": (factories.token_client(factories.driver_user(driver)), 403, "forbidden"),
        "kitchen": (factories.token_client(factories.kitchen_user(shop)), 201, None),
        "dispatcher": (factories.token_client(factories.dispatcher_user()), 201, None),
        "admin": (factories.token_client(factories.admin_user()), 201, None),
    }
    for role, (client, status, code) in clients.items():
        created = client.post("/api/webhooks", HOOK, format="json")
        assert created.status_code == status, (role, created.content)
        listed = client.get("/api/webhooks")
        if code:
            assert created.json()["error"] == code and listed.json()["error"] == code
        else:
            assert [e["id"] for e in listed.json()["results"]] == [created.json()["id"]], role
    assert Endpoint.objects.count() == 3


def test_the_secret_is_shown_once_and_the_endpoint_is_the_callers(transactional_db) -> None:
    owner = factories.token_client(factories.dispatcher_user())
    other = factories.token_client(factories.dispatcher_user("dispatcher-2"))
    created = owner.post("/api/webhooks/", {**HOOK, "description": "POS"}, format="json")
    body = created.json()
    assert created.status_code == 201 and body["secret"].startswith("whsec_") and body["active"] is True
    assert created["Location"].endswith(f"/api/webhooks/{body['id']}")
    assert body["events"] == HOOK["events"] and body["description"] == "POS"
    shown = owner.get(f"/api/webhooks/{body['id']}/").json()
    assert "secret" not in shown and shown["url"] == HOOK["url"]
    assert "secret" not in owner.get("/api/webhooks").json()["results"][0]
    for method in ("get", "patch", "delete"):
        refused = getattr(other, method)(f"/api/webhooks/{body['id']}", {}, format="json")
        assert (refused.status_code, refused.json()["error"]) == (404, "webhook_not_found"), method
    assert other.post(f"/api/webhooks/{body['id']}/test").status_code == 404
    assert other.get(f"/api/webhooks/{body['id']}/deliveries").status_code == 404
    assert other.get("/api/webhooks").json()["results"] == []


def test_edit_pause_and_delete(transactional_db) -> None:
    client = factories.token_client(factories.dispatcher_user())
    endpoint = client.post("/api/webhooks", HOOK, format="json").json()
    path = f"/api/webhooks/{endpoint['id']}"
    changed = client.patch(path, {"events": ["*"], "url": "https://pos.example.com/v2"}, format="json").json()
    assert changed["events"] == ["*"] and changed["url"] == "https://pos.example.com/v2"
    paused = client.patch(path, {"active": False}, format="json").json()
    assert paused["active"] is False and paused["disabled_reason"] == "Paused by its owner."
    resumed = client.patch(path, {"active": True}, format="json").json()
    assert resumed["active"] is True and resumed["disabled_reason"] == ""
    assert client.patch(path, {"events": ["nope"]}, format="json").json()["error"] == "invalid_event_type"
    assert client.delete(path).status_code == 204
    assert client.get(path).status_code == 404


def test_rotation_shows_the_new_secret_once(transactional_db) -> None:
    client = factories.token_client(factories.dispatcher_user())
    endpoint = client.post("/api/webhooks", HOOK, format="json").json()
    rotated = client.post(f"/api/webhooks/{endpoint['id']}/rotate-secret").json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != endpoint["secret"]
    assert rotated["previous_secret_expires_at"] is not None
    stored = Endpoint.objects.get(pk=endpoint["id"])
    assert (stored.secret, stored.previous_secret) == (rotated["secret"], endpoint["secret"])


def test_a_test_event_and_the_attempt_log(transactional_db) -> None:
    client = factories.token_client(factories.dispatcher_user())
    endpoint = client.post("/api/webhooks", HOOK, format="json").json()
    queued = client.post(f"/api/webhooks/{endpoint['id']}/test")
    assert queued.status_code == 202
    log = client.get(f"/api/webhooks/{endpoint['id']}/deliveries").json()
    (delivery,) = log["results"]
    assert log["next"] is None and delivery == queued.json()
    assert {"event_id", "event_type", "attempt", "status_code", "duration_ms", "next_attempt_at", "state"} <= set(delivery)
    assert (delivery["event_type"], delivery["state"], delivery["attempt"]) == ("webhook.test", "pending", 0)
    assert client.get(f"/api/webhooks/{endpoint['id']}/deliveries?state=delivered").json()["results"] == []
    assert client.get(f"/api/webhooks/{endpoint['id']}/deliveries?state=nope").status_code == 400


@pytest.mark.parametrize(("method", "path", "status", "code"), [
    ("get", "/api/webhooks/not-a-uuid", 400, "invalid_webhook_id"),
    ("get", "/api/webhooks/6f1c2b9e-3d4a-4e8f-9b7c-1a2d3e4f5a6b", 404, "webhook_not_found"),
    ("post", "/api/webhooks/6f1c2b9e-3d4a-4e8f-9b7c-1a2d3e4f5a6b/deliveries/x/replay", 400, "invalid_delivery_id"),
    ("post", "/api/webhooks/6f1c2b9e-3d4a-4e8f-9b7c-1a2d3e4f5a6b/deliveries/7/replay", 404, "webhook_not_found"),
])
def test_bad_ids_are_clear_errors(transactional_db, method, path, status, code) -> None:
    response = getattr(factories.token_client(factories.dispatcher_user()), method)(path)
    assert (response.status_code, response.json()["error"]) == (status, code)


def test_replay_of_an_unknown_delivery(transactional_db) -> None:
    client = factories.token_client(factories.dispatcher_user())
    endpoint = client.post("/api/webhooks", HOOK, format="json").json()
    response = client.post(f"/api/webhooks/{endpoint['id']}/deliveries/999/replay")
    assert (response.status_code, response.json()["error"]) == (404, "delivery_not_found")


@pytest.mark.parametrize("body", [{"url": "not a url", "events": ["*"]}, {"url": HOOK["url"]},
                                  {"url": HOOK["url"], "events": "*"}, {"url": HOOK["url"], "events": [None]},
                                  {"url": "gopher://x.example.com", "events": ["*"]}])
def test_bad_bodies_are_400(transactional_db, body) -> None:
    response = factories.token_client(factories.dispatcher_user()).post("/api/webhooks", body, format="json")
    assert response.status_code == 400 and response.json()["error"] in ("invalid_input", "invalid_url")
    assert not Endpoint.objects.exists()
