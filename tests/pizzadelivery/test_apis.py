"""The marketplace API: status codes and bodies of every operation, as the public contract fixes them."""
from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from events.models import Event
from pizzadelivery.models import Driver, MenuItem, Order, Restaurant
from pizzadelivery.tokens import tracking_token_for
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


def order_body(restaurant, item, /, **overrides):
    body = {"restaurant": restaurant.id, "items": [{"menu_item": item.id, "quantity": 2}],
            "customer": {"name": "Ada Lovelace", "phone": "+49 30 1234567"},
            "delivery_address": {"text": "Torstraße 1", "lat": 52.53, "lng": 13.41}}
    body.update(overrides)
    return body


@pytest.fixture
def shop():
    restaurant = factories.restaurant()
    return restaurant, factories.menu_item(restaurant, price="8.90")


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["error"] == code and body["detail"], body
    return body


def test_restaurants_and_menu_are_public(anon, shop) -> None:
    restaurant, item = shop
    listed = anon.get("/api/restaurants").json()["results"]
    assert listed[0] == {"id": restaurant.id, "slug": restaurant.slug, "name": restaurant.name,
                         "address": restaurant.address, "description": "",
                         "location": {"lat": float(restaurant.lat), "lng": float(restaurant.lng)},
                         "open": True, "prep_minutes": 12}
    menu = anon.get(f"/api/restaurants/{restaurant.id}/menu/").json()
    assert menu["results"][0]["id"] == item.id and menu["results"][0]["price"] == "8.90"
    assert_error(anon.get("/api/restaurants/999999/menu"), 404, "restaurant_not_found")
    assert_error(anon.get("/api/restaurants/abc/menu"), 400, "invalid_restaurant_id")


def test_create_order(api, shop) -> None:
    restaurant, item = shop
    response = api.post("/api/orders", order_body(restaurant, item), format="json")
    assert response.status_code == 201
    body = response.json()
    assert uuid.UUID(body["id"]) and body["code"].startswith("PZ-")
    assert body["status"] == "placed" and body["total"] == "17.80"
    assert f"/track/{tracking_token_for(body['id'])}/" in body["tracking_url"]
    assert Event.objects.filter(type="order.placed", order_id=body["id"]).exists()


@pytest.mark.parametrize("override, code", [
    ({"items": []}, "invalid_input"),
    ({"items": [{"menu_item": 1, "quantity": 0}]}, "invalid_input"),
    ({"items": [{"menu_item": 1, "quantity": 10**9}]}, "invalid_input"),
    ({"items": [{"menu_item": "1", "quantity": 1}]}, "invalid_input"),
    ({"items": [{"menu_item": True, "quantity": 1}]}, "invalid_input"),
    ({"restaurant": "1; DROP TABLE orders"}, "invalid_input"),
    ({"restaurant": 10**30}, "invalid_input"),
    ({"delivery_address": {"text": "x", "lat": 91, "lng": 0}}, "invalid_input"),
    ({"delivery_address": {"text": "x", "lat": "NaN", "lng": 0}}, "invalid_input"),
    ({"delivery_address": {"text": "x" * 1000, "lat": 52.5, "lng": 13.4}}, "invalid_input"),
    ({"customer": {"name": "A", "phone": "<script>"}}, "invalid_input"),
    ({"customer": "Ada"}, "invalid_input"),
])
def test_create_order_rejects_bad_input_and_changes_nothing(api, shop, override, code) -> None:
    restaurant, item = shop
    assert_error(api.post("/api/orders", order_body(restaurant, item, **override), format="json"), 400, code)
    assert not Order.objects.exists()


def test_create_order_domain_refusals(api, shop) -> None:
    restaurant, item = shop
    assert_error(api.post("/api/orders", order_body(restaurant, item, restaurant=999999), format="json"),
                 404, "restaurant_not_found")
    far = {"text": "Munich", "lat": 48.13, "lng": 11.58}
    assert_error(api.post("/api/orders", order_body(restaurant, item, delivery_address=far), format="json"),
                 400, "out_of_delivery_area")
    restaurant.is_open = False
    restaurant.save()
    assert_error(api.post("/api/orders", order_body(restaurant, item), format="json"), 409, "restaurant_closed")
    assert not Order.objects.exists()


def test_malformed_json_and_wrong_media_type(api) -> None:
    assert_error(api.post("/api/orders", "{not json", content_type="application/json"), 400, "malformed_request")
    assert_error(api.post("/api/orders", "a=1", content_type="application/x-www-form-urlencoded"), 415,
                 "unsupported_media_type")


def test_order_api_needs_an_integrator_or_staff(anon, shop) -> None:
    restaurant, item = shop
    assert anon.post("/api/orders", order_body(restaurant, item), format="json").status_code in (401, 403)
    anon.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert_error(anon.post("/api/orders", order_body(restaurant, item), format="json"), 401, "authentication_failed")


def test_order_detail_access(api, anon) -> None:
    order = factories.order()
    other = factories.order()
    assert api.get(f"/api/orders/{order.id}").json()["code"] == order.code
    assert anon.get(f"/api/orders/{order.id}?token={tracking_token_for(order.id)}").status_code == 200
    assert_error(anon.get(f"/api/orders/{order.id}?token={tracking_token_for(other.id)}"), 403, "forbidden")
    assert_error(anon.get(f"/api/orders/{order.id}?token=forged"), 403, "forbidden")
    assert_error(anon.get(f"/api/orders/{order.id}"), 401, "not_authenticated")
    assert_error(api.get(f"/api/orders/{uuid.uuid4()}"), 404, "order_not_found")
    assert_error(api.get("/api/orders/' OR 1=1 --"), 400, "invalid_order_id")


def test_transitions_through_the_api(api) -> None:
    order = factories.order()
    driver = factories.driver()
    assert_error(api.post(f"/api/orders/{order.id}/transition", {"to": "delivered"}, format="json"),
                 409, "invalid_transition")
    assert api.post(f"/api/orders/{order.id}/transition/", {"to": "confirmed"}, format="json").status_code == 200
    response = api.post(f"/api/orders/{order.id}/transition", {"to": "dispatched", "driver_id": driver.id},
                        format="json", HTTP_X_CORRELATION_ID="corr-api-1")
    assert response.status_code == 200 and response.json()["driver_id"] == driver.id
    assert response["X-Correlation-ID"] == "corr-api-1"
    assert set(Event.objects.filter(correlation_id="corr-api-1").values_list("type", flat=True)) == {
        "order.dispatched", "driver.assigned", "delivery.eta_updated"}
    assert_error(api.post(f"/api/orders/{order.id}/transition", {"to": "teleported"}, format="json"),
                 400, "invalid_input")
    assert_error(api.post(f"/api/orders/{uuid.uuid4()}/transition", {"to": "confirmed"}, format="json"),
                 404, "order_not_found")
    second = factories.order_at("confirmed")
    assert_error(api.post(f"/api/orders/{second.id}/transition", {"to": "dispatched", "driver_id": driver.id},
                          format="json"), 409, "driver_unavailable")


def test_a_bad_correlation_id_is_replaced(api) -> None:
    response = api.get("/api/restaurants", HTTP_X_CORRELATION_ID="bad id with spaces " * 5)
    assert response["X-Correlation-ID"] and " " not in response["X-Correlation-ID"]


def test_drivers_and_location_updates(api) -> None:
    driver = factories.driver()
    order = factories.order_at("dispatched", driver_obj=driver)
    listed = {d["id"]: d for d in api.get("/api/drivers").json()["results"]}
    assert listed[driver.id]["current_assignment"]["order_id"] == str(order.id)
    response = api.post(f"/api/drivers/{driver.id}/location", {"lat": 52.521, "lng": 13.406, "heading": 45},
                        format="json")
    assert response.status_code in (200, 202)
    assert response.json()["location"]["lat"] == 52.521
    for bad in ({"lat": 123, "lng": 0}, {"lat": 0, "lng": -181}, {"lat": "NaN", "lng": 0},
                {"lat": True, "lng": 0}, {"lat": 1}, {"lat": 1, "lng": 1, "heading": 400}):
        assert_error(api.post(f"/api/drivers/{driver.id}/location", bad, format="json"), 400, "invalid_input")
    assert str(Driver.objects.get(pk=driver.id).lat) == "52.521000"  # the bad updates changed nothing
    assert_error(api.post("/api/drivers/999999/location", {"lat": 1, "lng": 1}, format="json"), 404,
                 "driver_not_found")
    assert_error(api.post("/api/drivers/x/location", {"lat": 1, "lng": 1}, format="json"), 400, "invalid_driver_id")


def test_driver_status(api) -> None:
    driver = factories.driver()
    assert api.post(f"/api/drivers/{driver.id}/status", {"status": "offline"}, format="json").json()["status"] == "offline"
    busy = factories.driver()
    factories.order_at("dispatched", driver_obj=busy)
    assert_error(api.post(f"/api/drivers/{busy.id}/status", {"status": "offline"}, format="json"), 409, "driver_busy")


def test_rate_limits_on_order_creation_and_location(api, shop, settings) -> None:
    restaurant, item = shop
    settings.ORDER_CREATE_RATE_LIMIT = "2/m"
    for _ in range(2):
        assert api.post("/api/orders", order_body(restaurant, item), format="json").status_code == 201
    limited = api.post("/api/orders", order_body(restaurant, item), format="json")
    assert_error(limited, 429, "rate_limited")
    assert int(limited["Retry-After"]) >= 1
    assert Order.objects.count() == 2


def test_events_feed(api) -> None:
    order = factories.order_at("preparing")
    page = api.get(f"/api/events?order_id={order.id}").json()
    types = [e["type"] for e in page["results"]]
    assert types == ["order.placed", "order.confirmed", "order.preparing"]
    assert set(page["results"][0]) >= {"seq", "id", "type", "correlation_id", "order_id", "payload", "occurred_at"}
    first = api.get("/api/events?limit=2").json()
    assert len(first["results"]) == 2 and first["next"]
    rest = api.get(first["next"]).json()
    assert rest["results"][0]["seq"] > first["results"][-1]["seq"]
    corr = page["results"][1]["correlation_id"]
    assert [e["type"] for e in api.get(f"/api/events?correlation_id={corr}").json()["results"]] == ["order.confirmed"]
    assert_error(api.get("/api/events?after=-1"), 400, "invalid_parameter")
    assert_error(api.get("/api/events?order_id=nope"), 400, "invalid_order_id")
    assert_error(api.get("/api/events?limit=100000"), 400, "invalid_parameter")


def test_schema_and_docs_are_served_offline(anon) -> None:
    schema = anon.get("/api/schema", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    docs = anon.get("/api/docs", HTTP_ACCEPT="application/json")  # as an integrator's client asks
    assert docs.status_code == 200 and b"swagger" in docs.content.lower()
    assert b"cdn" not in docs.content.lower()


def test_drf_create_token_command(staff) -> None:
    call_command("drf_create_token", staff.username)
    assert Token.objects.filter(user=staff).exists()


def test_unknown_api_path_is_json_404(anon) -> None:
    assert_error(anon.get("/api/nothing-here"), 404, "not_found")


# --- proof of delivery through the API ------------------------------------------------------

def _on_the_road() -> tuple[Order, Any]:
    order = factories.order_at("out_for_delivery")
    return order, factories.token_client(factories.driver_user(order.driver))


def test_the_driver_delivers_with_the_customers_pin(transactional_db) -> None:
    order, driver = _on_the_road()
    path = f"/api/orders/{order.id}/transition"
    assert_error(driver.post(path, {"to": "delivered"}, format="json"), 400, "pin_required")
    assert_error(driver.post(path, {"to": "delivered", "pin": "12a4"}, format="json"), 400, "invalid_input")
    wrong = f"{(int(order.delivery_pin) + 1) % 10_000:04d}"
    refused = driver.post(path, {"to": "delivered", "pin": wrong}, format="json")
    assert_error(refused, 400, "invalid_pin")
    assert refused.json()["tries_left"] == 4
    assert_error(driver.post(path, {"to": "delivered", "reason": "no PIN"}, format="json"), 403, "forbidden")
    done = driver.post(path, {"to": "delivered", "pin": order.delivery_pin}, format="json")
    assert done.status_code == 200 and done.json()["status"] == "delivered"
    assert "delivery_pin" not in done.json()  # the driver never reads it from us


def test_five_wrong_pins_lock_it_and_a_dispatcher_completes_with_a_reason(transactional_db) -> None:
    order, driver = _on_the_road()
    path = f"/api/orders/{order.id}/transition"
    wrong = f"{(int(order.delivery_pin) + 1) % 10_000:04d}"
    for _ in range(4):
        assert_error(driver.post(path, {"to": "delivered", "pin": wrong}, format="json"), 400, "invalid_pin")
    assert_error(driver.post(path, {"to": "delivered", "pin": wrong}, format="json"), 409, "pin_locked")
    assert_error(driver.post(path, {"to": "delivered", "pin": order.delivery_pin}, format="json"), 409, "pin_locked")
    dispatcher = factories.token_client(factories.dispatcher_user())
    assert_error(dispatcher.post(path, {"to": "delivered"}, format="json"), 400, "pin_required")
    assert_error(dispatcher.post(path, {"to": "delivered", "pin": order.delivery_pin}, format="json"), 403,
                 "forbidden")  # a dispatcher completes without it, giving a reason
    done = dispatcher.post(path, {"to": "delivered", "reason": "ID checked at the door"}, format="json")
    assert done.status_code == 200
    assert Event.objects.get(order_id=order.id, type="order.delivered").payload["reason"] == "ID checked at the door"


def test_only_the_customer_reads_the_pin(transactional_db, anon) -> None:
    placed = factories.order_at("placed")
    answer = anon.get(f"/api/orders/{placed.id}", {"token": tracking_token_for(placed.id)}).json()
    assert "delivery_pin" not in answer  # none made before dispatch
    order, driver = _on_the_road()
    mine = anon.get(f"/api/orders/{order.id}", {"token": tracking_token_for(order.id)}).json()
    assert mine["delivery_pin"] == order.delivery_pin and "cancel_reason" not in mine
    readers = [driver, factories.token_client(factories.kitchen_user(order.restaurant)),
               factories.token_client(factories.dispatcher_user()), factories.token_client(factories.admin_user())]
    for client in readers:
        for path in (f"/api/orders/{order.id}", f"/api/orders/{order.id}/delivery", "/api/orders"):
            response = client.get(path)
            # As a value anywhere in the answer (4 digits may also occur inside an id or a time).
            assert response.status_code == 200 and order.delivery_pin not in _values(response.json()), path


def _values(document: object) -> list[str]:
    """Every scalar of a JSON document, as text."""
    if isinstance(document, dict):
        return [value for item in document.values() for value in _values(item)]
    if isinstance(document, list):
        return [value for item in document for value in _values(item)]
    return [str(document)]


def test_cancel_reasons_are_told_to_the_customer_in_their_words(transactional_db, anon) -> None:
    order = factories.order_at("preparing")
    kitchen = factories.token_client(factories.kitchen_user(order.restaurant))
    moved = kitchen.post(f"/api/orders/{order.id}/transition", {"to": "cancelled", "reason_code": "out_of_stock",
                                                              "reason": "Mozzarella delivery missed"}, format="json")
    assert moved.status_code == 200
    assert moved.json()["cancel_code"] == "out_of_stock" and moved.json()["cancel_reason"] == "Mozzarella delivery missed"
    seen = anon.get(f"/api/orders/{order.id}", {"token": tracking_token_for(order.id)}).json()
    assert seen["cancel_message"].startswith("The pizzeria ran out of something")
    assert "Mozzarella" not in str(seen)


def test_kitchens_open_close_and_sell_out_their_own_only(transactional_db) -> None:
    shop, other = factories.restaurant(), factories.restaurant()
    item, theirs = factories.menu_item(shop), factories.menu_item(other)
    kitchen = factories.token_client(factories.kitchen_user(shop))
    closed = kitchen.post(f"/api/restaurants/{shop.id}/status", {"open": False}, format="json")
    assert closed.status_code == 200 and closed.json()["open"] is False
    sold = kitchen.post(f"/api/menu-items/{item.id}/availability", {"available": False}, format="json")
    assert sold.status_code == 200 and sold.json()["available"] is False
    assert_error(kitchen.post(f"/api/restaurants/{other.id}/status", {"open": False}, format="json"), 403, "forbidden")
    assert_error(kitchen.post(f"/api/menu-items/{theirs.id}/availability", {"available": False}, format="json"),
                 403, "forbidden")
    assert_error(kitchen.post("/api/menu-items/999999/availability", {"available": False}, format="json"), 404,
                 "menu_item_not_found")
    assert Restaurant.objects.get(pk=other.id).is_open and MenuItem.objects.get(pk=theirs.id).is_available


# --- dispatch candidates -------------------------------------------------------------------

def test_candidates_are_available_drivers_nearest_first(transactional_db, mirror) -> None:
    order = factories.order_at("confirmed")
    shop = (float(order.restaurant.lat), float(order.restaurant.lng))
    far = factories.driver(name="Far", lat=shop[0] + 0.03, lng=shop[1])
    near = factories.driver(name="Near", lat=shop[0] + 0.002, lng=shop[1])
    middle = factories.driver(name="Middle", lat=shop[0] + 0.01, lng=shop[1])
    factories.driver(name="Off shift", status="offline", lat=shop[0], lng=shop[1])
    factories.order_at("dispatched", driver_obj=factories.driver(name="Busy", lat=shop[0], lng=shop[1]))
    dispatcher = factories.token_client(factories.dispatcher_user())
    response = dispatcher.get(f"/api/orders/{order.id}/candidates")
    assert response.status_code == 200
    results = response.json()["results"]
    assert [c["id"] for c in results] == [near.id, middle.id, far.id]  # available only, nearest first
    assert [c["distance_m"] for c in results] == sorted(c["distance_m"] for c in results)
    assert results[0]["eta_to_restaurant_minutes"] < results[-1]["eta_to_restaurant_minutes"]
    assert set(results[0]) == {"id", "name", "vehicle", "distance_m", "eta_to_restaurant_minutes", "location"}
    for client in (factories.token_client(factories.kitchen_user(order.restaurant)),
                   factories.token_client(factories.driver_user(far))):
        assert_error(client.get(f"/api/orders/{order.id}/candidates"), 403, "forbidden")
    assert_error(APIClient().get(f"/api/orders/{order.id}/candidates"), 401, "not_authenticated")
    assert_error(dispatcher.get(f"/api/orders/{uuid.uuid4()}/candidates"), 404, "order_not_found")


def test_reassign_through_the_api_must_be_asked_for(transactional_db, mirror) -> None:
    first, second = factories.driver(name="First"), factories.driver(name="Second")
    order = factories.order_at("dispatched", driver_obj=first)
    dispatcher = factories.token_client(factories.dispatcher_user())
    path = f"/api/orders/{order.id}/transition"
    assert_error(dispatcher.post(path, {"to": "dispatched", "driver_id": second.id}, format="json"), 409,
                 "invalid_transition")
    assert_error(dispatcher.post(path, {"to": "dispatched", "driver_id": second.id, "reassign": "maybe"},
                                 format="json"), 400, "invalid_input")
    assert Order.objects.get(pk=order.id).driver_id == first.id
    moved = dispatcher.post(path, {"to": "dispatched", "driver_id": second.id, "reassign": True}, format="json")
    assert moved.status_code == 200 and moved.json()["driver_id"] == second.id
    assert_error(factories.token_client(factories.driver_user(first)).post(
        path, {"to": "dispatched", "driver_id": first.id, "reassign": True}, format="json"), 403, "forbidden")


# --- input the domain refuses -----------------------------------------------------------------

HOSTILE_PHONES = ["-----", "(((((", "0" * 31, "+49 151 1", "+49\u200b30\u200b", "call me"]


@pytest.mark.parametrize("phone", HOSTILE_PHONES)
def test_an_order_with_no_real_phone_number_is_refused(api, shop, phone: str) -> None:
    restaurant, item = shop
    body = order_body(restaurant, item, customer={"name": "Ada Lovelace", "phone": phone})
    assert_error(api.post("/api/orders", body, format="json"), 400, "invalid_input")
    assert not Order.objects.exists()


@pytest.mark.parametrize("typed", ["+49 30 1234567", "030 1234567", "+４９ ３０ １２３４５６７",
                                   "\u0660\u0663\u0660 \u0661\u0662\u0663\u0664\u0665\u0666\u0667"])
def test_phone_numbers_are_stored_in_one_spelling(api, shop, typed: str) -> None:
    """National numbers are read in settings.PHONENUMBER_DEFAULT_REGION; full-width and
    Arabic-Indic digits are the same digits to phonenumbers, and never stored as typed."""
    restaurant, item = shop
    response = api.post("/api/orders", order_body(restaurant, item, customer={"name": "Ada", "phone": typed}),
                        format="json")
    assert response.status_code == 201, response.content
    assert Order.objects.get(pk=response.json()["id"]).customer.phone == "+49301234567"


@pytest.mark.parametrize("name", ["\u200b\u200b\u200b", "\u200b \ufeff \u200d", "  ", "123", "\u202e\u202d"])
def test_a_name_with_nothing_readable_is_refused(api, shop, name: str) -> None:
    restaurant, item = shop
    body = order_body(restaurant, item, customer={"name": name, "phone": "+49 30 1234567"})
    assert_error(api.post("/api/orders", body, format="json"), 400, "invalid_input")
    assert not Order.objects.exists()


def test_invisible_characters_are_dropped_from_a_name(api, shop) -> None:
    restaurant, item = shop
    body = order_body(restaurant, item, customer={"name": "A\u200bda  Love\u2060lace", "phone": "+49 30 1234567"})
    response = api.post("/api/orders", body, format="json")
    assert response.status_code == 201, response.content
    assert Order.objects.get(pk=response.json()["id"]).customer.name == "Ada Lovelace"


def test_an_order_is_capped_as_a_whole(api, shop, settings) -> None:
    """30 lines of the same pizza at quantity 50 were 1,500 pizzas and 19,500 EUR."""
    restaurant, item = shop
    huge = order_body(restaurant, item, items=[{"menu_item": item.id, "quantity": 50}] * 30)
    assert_error(api.post("/api/orders", huge, format="json"), 400, "order_too_large")
    split = order_body(restaurant, item, items=[{"menu_item": item.id, "quantity": 20}] * 3)  # merged: 60 > 50
    assert_error(api.post("/api/orders", split, format="json"), 400, "order_too_large")
    settings.ORDER_MAX_TOTAL = Decimal("100")
    costly = order_body(restaurant, item, items=[{"menu_item": item.id, "quantity": 12}])  # 106.80 EUR
    assert_error(api.post("/api/orders", costly, format="json"), 400, "order_too_large")
    assert not Order.objects.exists()


def test_repeated_lines_are_merged(api, shop) -> None:
    restaurant, item = shop
    other = factories.menu_item(restaurant, name="Diavola", price="10.00")
    body = order_body(restaurant, item, items=[{"menu_item": item.id, "quantity": 2},
                                               {"menu_item": other.id, "quantity": 1},
                                               {"menu_item": item.id, "quantity": 3}])
    response = api.post("/api/orders", body, format="json")
    assert response.status_code == 201, response.content
    assert [(line["menu_item"], line["quantity"]) for line in response.json()["items"]] == [(item.id, 5), (other.id, 1)]
    assert response.json()["total"] == "54.50"


def test_personal_responses_are_never_stored_by_a_cache(api, anon, shop) -> None:
    restaurant, item = shop
    created = api.post("/api/orders", order_body(restaurant, item), format="json")
    order_id = created.json()["id"]
    token = tracking_token_for(order_id)
    responses = {
        "create": created,
        "list": api.get("/api/orders"),
        "detail": api.get(f"/api/orders/{order_id}"),
        "detail by link": anon.get(f"/api/orders/{order_id}", {"token": token}),
        "delivery (not dispatched: 400)": anon.get(f"/api/orders/{order_id}/delivery", {"token": token}),
        "transition": api.post(f"/api/orders/{order_id}/transition", {"to": "confirmed"}, format="json"),
    }
    for what, response in responses.items():
        directives = {part.strip() for part in response.get("Cache-Control", "").split(",")}
        assert {"private", "no-store"} <= directives, (what, response.get("Cache-Control"))
    public = anon.get("/api/restaurants")
    assert "no-store" not in public.get("Cache-Control", "")


def test_an_order_takes_the_customers_email_and_language(api, shop) -> None:
    restaurant, item = shop
    body = order_body(restaurant, item, customer={"name": "Ada Lovelace", "phone": "+49 30 1234567",
                                                  "email": "ada@example.com"})
    response = api.post("/api/orders", body, format="json", HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9,en;q=0.5")
    assert response.status_code == 201, response.content
    order = Order.objects.select_related("customer").get(pk=response.json()["id"])
    assert order.customer.email == "ada@example.com" and order.language == "de"
    assert "ada@example.com" not in response.content.decode()  # no answer repeats it


@pytest.mark.parametrize("email", ["not-an-address", "ada@", "a" * 250 + "@example.com", 42])
def test_an_invalid_email_is_a_400_naming_the_field(api, shop, email) -> None:
    restaurant, item = shop
    body = order_body(restaurant, item, customer={"name": "Ada Lovelace", "phone": "+49 30 1234567", "email": email})
    error = assert_error(api.post("/api/orders", body, format="json"), 400, "invalid_input")
    assert "email" in str(error["fields"]) and not Order.objects.exists()


def test_the_customer_cancels_with_the_tracking_token_only_while_placed(transactional_db, anon) -> None:
    order = factories.order_at("placed")
    token = tracking_token_for(order.id)
    assert_error(anon.post(f"/api/orders/{order.id}/transition?token={token}", {"to": "confirmed"}, format="json"),
                 403, "forbidden")
    other = factories.order_at("placed")
    assert_error(anon.post(f"/api/orders/{other.id}/transition?token={token}", {"to": "cancelled"}, format="json"),
                 403, "forbidden")
    moved = anon.post(f"/api/orders/{order.id}/transition?token={token}", {"to": "cancelled"}, format="json")
    assert moved.status_code == 200 and moved.json()["status"] == "cancelled"
    assert Event.objects.get(type="order.cancelled", order_id=order.id).payload["reason_code"] == "customer_asked"

    confirmed = factories.order_at("confirmed")
    refused = assert_error(anon.post(f"/api/orders/{confirmed.id}/transition?token={tracking_token_for(confirmed.id)}",
                                     {"to": "cancelled"}, format="json"), 409, "invalid_transition")
    assert refused["status"] == "confirmed"
    assert Order.objects.get(pk=confirmed.id).status == "confirmed"


def test_a_customers_cancel_loses_to_a_kitchen_that_confirmed_first(transactional_db) -> None:
    from pizzadelivery import services
    from pizzadelivery.infra.errors import DomainError

    order = factories.order_at("confirmed")  # confirmed after the API's first look, say
    with pytest.raises(DomainError) as refused:
        services.order_transition(order_id=order.id, to="cancelled", reason_code="customer_asked", by_customer=True)
    assert refused.value.code == "invalid_transition"
    assert Order.objects.get(pk=order.id).status == "confirmed"
