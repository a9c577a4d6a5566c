"""GET /api/orders/{id}/delivery: every status code, every key, every access path."""
from __future__ import annotations

import uuid
from datetime import datetime

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from pizzadelivery import services
from pizzadelivery.tokens import tracking_token_for
from tests import factories
from tests.tracking.helpers import HOME, advance, move, ready_then_dispatched, token

pytestmark = pytest.mark.django_db(transaction=True)

TOP_KEYS = {"order", "status", "driver", "eta", "progress", "updated_at", "arriving", "source"}
ORDER_KEYS = {"id", "code", "status", "restaurant", "items", "total", "delivery_address"}
STEP_LABELS = ["Placed", "Confirmed", "In the oven", "Ready", "Driver on the way to the shop",
               "Out for delivery", "Delivered"]


def url(order_id: object) -> str:
    return f"/api/orders/{order_id}/delivery"


def assert_iso(value: str) -> None:
    assert datetime.fromisoformat(value).tzinfo is not None


def test_dispatched_order_has_every_key(api, mirror):
    order, driver = ready_then_dispatched()
    move(driver, 52.5215, 13.4060)

    response = api.get(url(order.id))

    assert response.status_code == 200
    body = response.json()
    assert set(body) == TOP_KEYS
    assert set(body["order"]) == ORDER_KEYS
    assert body["order"]["id"] == str(order.id) and body["order"]["code"] == order.code
    assert body["order"]["restaurant"]["name"] == order.restaurant.name
    assert body["order"]["items"][0]["quantity"] == 1
    assert body["order"]["total"] == str(order.total)
    assert body["order"]["delivery_address"] == {"text": "Torstraße 1", "lat": HOME[0], "lng": HOME[1]}
    assert body["status"] == body["order"]["status"] == "dispatched"
    assert set(body["driver"]) == {"id", "name", "vehicle", "location"}
    assert body["driver"]["id"] == driver.id and body["driver"]["name"] == driver.name
    assert body["driver"]["vehicle"] == "scooter"
    assert set(body["driver"]["location"]) == {"lat", "lng", "updated_at"}
    assert body["driver"]["location"]["lat"] == 52.5215 and body["driver"]["location"]["lng"] == 13.406
    assert_iso(body["driver"]["location"]["updated_at"])
    assert {"estimated_arrival", "minutes_remaining"} <= set(body["eta"])
    assert_iso(body["eta"]["estimated_arrival"])
    assert body["eta"]["minutes_remaining"] >= 1
    assert set(body["progress"]) == {"steps", "current_step", "percent", "distance_remaining_m"}
    assert [s["label"] for s in body["progress"]["steps"]] == STEP_LABELS
    assert [s["reached"] for s in body["progress"]["steps"]] == [True] * 5 + [False] * 2
    assert body["progress"]["steps"][4]["key"] == "dispatched"
    assert_iso(body["progress"]["steps"][4]["reached_at"])
    assert body["progress"]["steps"][5]["reached_at"] is None
    assert body["progress"]["current_step"] == 4
    assert 0 < body["progress"]["percent"] < 100
    assert body["progress"]["distance_remaining_m"] > 1000
    assert body["arriving"] is False
    assert_iso(body["updated_at"])
    assert body["source"] == "redis"


@pytest.mark.parametrize("status", ["placed", "confirmed", "preparing", "ready"])
def test_kitchen_stages_are_not_dispatched(api, mirror, status):
    order = factories.order_at(status)

    response = api.get(url(order.id))

    assert response.status_code == 400
    assert response.json() == {"error": "order_not_dispatched", "status": status,
                               "detail": f"Order {order.code} has no driver yet; it is {status}."}


def test_cancelled_before_dispatch_is_not_dispatched(api, mirror):
    order = advance(factories.order(), "confirmed", "cancelled")

    response = api.get(url(order.id))

    assert response.status_code == 400
    assert response.json()["error"] == "order_not_dispatched"
    assert response.json()["status"] == "cancelled"


def test_cancelled_after_dispatch_shows_no_driver_position(api, mirror):
    order, driver = ready_then_dispatched()
    order = advance(order, "cancelled")

    body = api.get(url(order.id)).json()

    assert body["status"] == "cancelled"
    assert body["driver"]["id"] == driver.id
    assert body["driver"]["location"] is None  # the driver is free again: no longer the customer's business
    assert body["eta"]["estimated_arrival"] is None and body["eta"]["minutes_remaining"] is None
    assert body["progress"]["current_step"] == 4
    assert body["progress"]["distance_remaining_m"] is None


def test_out_for_delivery(api, mirror):
    order, driver = ready_then_dispatched()
    order = advance(order, "out_for_delivery")

    body = api.get(url(order.id)).json()

    assert body["status"] == "out_for_delivery"
    assert body["progress"]["current_step"] == 5
    assert body["progress"]["steps"][5]["reached"] is True
    assert body["driver"]["location"] is not None


def test_delivered_has_the_actual_arrival(api, mirror):
    order, driver = ready_then_dispatched()
    order = advance(order, "out_for_delivery", "delivered")

    body = api.get(url(order.id)).json()

    assert body["status"] == "delivered"
    assert body["progress"] == {**body["progress"], "current_step": 6, "percent": 100, "distance_remaining_m": 0}
    assert all(step["reached"] for step in body["progress"]["steps"])
    assert body["eta"]["minutes_remaining"] == 0
    assert body["eta"]["actual_arrival"] == order.delivered_at.isoformat()
    assert body["eta"]["promised_at_dispatch"] == order.eta_at_dispatch.isoformat()
    assert body["eta"]["error_seconds"] == round((order.delivered_at - order.eta_at_dispatch).total_seconds())
    assert body["driver"]["location"] is None  # the driver's next trips are not this customer's


def test_unknown_order_is_404(api, mirror):
    response = api.get(url(uuid.uuid4()))

    assert response.status_code == 404
    assert response.json() == {"error": "order_not_found", "detail": "No order with that id."}


def test_unknown_order_is_404_from_the_database_too(api):
    response = api.get(url(uuid.uuid4()))  # no mirror: the database answers

    assert response.status_code == 404
    assert response.json()["error"] == "order_not_found"


MALFORMED = [
    "42",
    "not-a-uuid",
    "1' OR '1'='1",
    "1;DROP TABLE pizzadelivery_order;--",
    "%27%20OR%201%3D1--",
    "${jndi:ldap:x}",
    "<script>alert(1)<script>",
    "d3b07384-d113-4ec1-a8c5-0d8e1c0f9a1",    # one digit short
    "d3b07384-d113-4ec1-a8c5-0d8e1c0f9a1zz",  # trailing garbage
    "ＡＢＣＤ",
    "0" * 10_000,
]


@pytest.mark.parametrize("raw", MALFORMED)
def test_malformed_ids_are_400_without_touching_the_database(anon, raw):
    with CaptureQueriesContext(connection) as queries:
        response = anon.get(url(raw))

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_order_id"
    assert response.json()["detail"]
    assert len(queries) == 0


def test_an_id_with_a_slash_is_not_this_endpoint(anon):
    response = anon.get(url("<b>x</b>"))

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


@pytest.mark.parametrize("path", ["/api/orders/{}/delivery", "/api/orders/{}/delivery/"])
def test_with_and_without_trailing_slash(api, mirror, path):
    order, _driver = ready_then_dispatched()

    response = api.get(path.format(order.id))

    assert response.status_code == 200  # no redirect
    assert response.json()["order"]["id"] == str(order.id)


# --- access ------------------------------------------------------------------------------

def test_staff_session(staff, mirror):
    order, _driver = ready_then_dispatched()
    browser = Client()
    browser.force_login(staff)

    response = browser.get(url(order.id))

    assert response.status_code == 200
    assert response.json()["order"]["id"] == str(order.id)


def test_tokens_act_with_their_users_role(mirror):
    order, driver = ready_then_dispatched()
    kitchen = factories.kitchen_user(order.restaurant)
    assert factories.token_client(kitchen).get(url(order.id)).status_code == 200  # their pizzeria's order
    assert factories.token_client(factories.driver_user(driver)).get(url(order.id)).status_code == 200  # their job
    elsewhere = factories.kitchen_user(factories.restaurant(), username="kitchen-elsewhere")
    assert factories.token_client(elsewhere).get(url(order.id)).status_code == 403
    nobody = User.objects.create_user("kitchen-screen", password="x-pw-kitchen-1")  # no role at all
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=nobody).key}")
    assert client.get(url(order.id)).status_code == 403


def test_own_tracking_token(anon, mirror):
    order, _driver = ready_then_dispatched()

    response = anon.get(url(order.id), {"token": token(order)})

    assert response.status_code == 200
    assert response.json()["order"]["id"] == str(order.id)


def test_another_orders_token_is_refused(anon, mirror):
    order, _driver = ready_then_dispatched()
    other, _other_driver = ready_then_dispatched()

    response = anon.get(url(order.id), {"token": token(other)})

    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"


@pytest.mark.parametrize("bad", ["", "garbage", "a" * 500, tracking_token_for(uuid.uuid4())])
def test_forged_or_foreign_tokens_are_refused(anon, mirror, bad):
    order, _driver = ready_then_dispatched()

    response = anon.get(url(order.id), {"token": bad})

    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"


def test_expired_link_is_refused(anon, mirror, settings):
    order, _driver = ready_then_dispatched()
    services.order_transition(order_id=order.id, to="cancelled", reason="test")
    assert anon.get(url(order.id), {"token": token(order)}).status_code == 200  # the hour after it ended
    settings.TRACKING_LINK_HOURS = 0

    response = anon.get(url(order.id), {"token": token(order)})

    assert response.status_code == 403
    assert response.json()["error"] == "link_expired"


def test_no_credentials_is_401(anon, mirror):
    order, _driver = ready_then_dispatched()

    response = anon.get(url(order.id))

    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"


def test_logged_in_user_without_a_role_or_token_is_403(mirror):
    order, _driver = ready_then_dispatched()
    browser = Client()
    browser.force_login(User.objects.create_user("customer", password="pw-for-tests-only"))

    response = browser.get(url(order.id))

    assert response.status_code == 403 and response.json()["error"] == "forbidden"


def test_no_credentials_on_an_unknown_order_does_not_reveal_it(anon, mirror):
    assert anon.get(url(uuid.uuid4())).status_code == 401


def test_post_is_not_allowed(api, mirror):
    order, _driver = ready_then_dispatched()

    response = api.post(url(order.id), {})

    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"


# --- speed and degradation -----------------------------------------------------------------

def test_token_read_from_the_mirror_makes_no_database_query(anon, mirror):
    order, driver = ready_then_dispatched()
    move(driver, 52.5212, 13.4059)
    tracking = token(order)
    anon.get(url(order.id), {"token": tracking})  # warm the connection pool

    with CaptureQueriesContext(connection) as queries:
        response = anon.get(url(order.id), {"token": tracking})

    assert response.status_code == 200
    assert response.json()["source"] == "redis"
    assert len(queries) == 0, [q["sql"] for q in queries]


def test_the_order_and_its_driver_come_from_the_mirror_in_one_round_trip(anon, mirror, monkeypatch):
    from redis.connection import AbstractConnection

    order, driver = ready_then_dispatched()
    move(driver, 52.5212, 13.4059)
    tracking = token(order)
    anon.get(url(order.id), {"token": tracking})  # warm: the pool's connection, the script loaded
    sent: list[bytes] = []
    send = AbstractConnection.send_packed_command

    def counting_send(conn, command, *args, **kwargs):
        sent.append(b"".join(command) if isinstance(command, (list, tuple)) else bytes(command))
        return send(conn, command, *args, **kwargs)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counting_send)
    response = anon.get(url(order.id), {"token": tracking})

    body = response.json()
    assert body["source"] == "redis" and body["driver"]["location"]["lat"] == 52.5212
    assert len(sent) == 1, sent
    assert b"EVALSHA" in sent[0].upper()


def test_a_redis_that_forgot_the_script_is_sent_it_again(anon, mirror, redis_client):
    order, driver = ready_then_dispatched()
    move(driver, 52.5213, 13.4058)
    tracking = token(order)
    assert anon.get(url(order.id), {"token": tracking}).json()["source"] == "redis"
    redis_client.script_flush()  # as a restarted or failed-over Redis would have

    body = anon.get(url(order.id), {"token": tracking}).json()

    assert body["source"] == "redis" and body["driver"]["location"]["lat"] == 52.5213


def test_a_driver_missing_from_the_mirror_is_read_from_the_database(anon, mirror, redis_client):
    from pizzadelivery.mirror import keys

    order, driver = ready_then_dispatched()
    move(driver, 52.5214, 13.4057)
    redis_client.delete(keys.driver(driver.id))

    body = anon.get(url(order.id), {"token": token(order)}).json()

    assert body["source"] == "redis"  # the order's document was there
    assert body["driver"]["name"] == driver.name and body["driver"]["location"]["lat"] == 52.5214


def test_redis_down_answers_from_the_database(own_redis, api):
    from events.publisher import rebuild_projections

    rebuild_projections()
    order, driver = ready_then_dispatched()
    move(driver, 52.5216, 13.4061)
    assert api.get(url(order.id)).json()["source"] == "redis"

    own_redis.stop()
    response = api.get(url(order.id))

    assert response.status_code == 200
    body = response.json()
    assert body["source"] == "database"
    assert set(body) == TOP_KEYS
    assert body["status"] == "dispatched"
    assert body["driver"]["location"]["lat"] == 52.5216
    assert body["eta"]["estimated_arrival"] is not None
    assert api.get(url(uuid.uuid4())).status_code == 404
    not_sent = factories.order()  # its batch stays in the outbox; the row is committed
    assert api.get(url(not_sent.id)).json() == {
        "error": "order_not_dispatched", "status": "placed",
        "detail": f"Order {not_sent.code} has no driver yet; it is placed."}


def test_schema_documents_the_endpoint(anon):
    schema = anon.get("/api/schema", HTTP_ACCEPT="application/json").json()

    paths = {path.rstrip("/"): item for path, item in schema["paths"].items()}
    operation = paths["/api/orders/{order_id}/delivery"]["get"]
    assert set(operation["responses"]) >= {"200", "400", "401", "403", "404"}
    assert any(p["name"] == "token" for p in operation["parameters"])
    state = schema["components"]["schemas"]["DeliveryStateOut"]["properties"]
    assert {"order", "status", "driver", "eta", "progress", "updated_at"} <= set(state)
