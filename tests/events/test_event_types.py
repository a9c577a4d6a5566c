"""One test per event type, each asserting the payload the product really emits."""
from __future__ import annotations

from datetime import datetime

import pytest

from events.models import Event
from events.registry import EVENT_TYPES
from events.services import batch
from pizzadelivery import services
from pizzadelivery.infra.errors import DomainError
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)
TESTED: set[str] = set()


def emitted(type_name: str, **filters: object) -> Event:
    TESTED.add(type_name)
    return Event.objects.filter(type=type_name, **filters).latest("seq")


def test_order_placed() -> None:
    order = factories.order(quantity=3)
    event = emitted("order.placed", order_id=order.id)
    assert event.payload == {"code": order.code, "status": "placed", "kitchen_status": "placed",
                             "restaurant_id": order.restaurant_id, "total": str(order.total), "item_count": 3}


@pytest.mark.parametrize("stage", ["confirmed", "preparing", "ready"])
def test_kitchen_stages(stage: str) -> None:
    order = factories.order_at(stage)
    event = emitted(f"order.{stage}", order_id=order.id)
    assert event.payload == {"code": order.code, "status": stage, "kitchen_status": stage}


def test_order_dispatched_driver_assigned_and_eta() -> None:
    driver = factories.driver()
    order = factories.order_at("dispatched", driver_obj=driver)
    dispatched = emitted("order.dispatched", order_id=order.id)
    assert dispatched.payload == {"code": order.code, "status": "dispatched", "kitchen_status": "confirmed",
                                  "how": "chosen", "note": ""}
    assert dispatched.driver_id == driver.id
    assigned = emitted("driver.assigned", order_id=order.id)
    assert assigned.payload == {"driver_name": driver.name} and assigned.driver_id == driver.id
    eta = emitted("delivery.eta_updated", order_id=order.id)
    assert eta.payload["reason"] == "dispatched" and eta.payload["previous"] is None
    assert datetime.fromisoformat(eta.payload["estimated_arrival"]) == order.eta_at
    assert eta.payload["minutes_remaining"] > 0
    assert {dispatched.correlation_id, assigned.correlation_id, eta.correlation_id} == {dispatched.correlation_id}


def test_order_out_for_delivery() -> None:
    order = factories.order_at("out_for_delivery")
    event = emitted("order.out_for_delivery", order_id=order.id)
    assert event.payload == {"code": order.code, "status": "out_for_delivery", "kitchen_status": "ready"}
    assert event.driver_id == order.driver_id


def test_order_delivered_and_driver_released() -> None:
    order = factories.order_at("delivered")
    event = emitted("order.delivered", order_id=order.id)
    assert event.payload["status"] == "delivered"
    assert datetime.fromisoformat(event.payload["delivered_at"]) == order.delivered_at
    assert datetime.fromisoformat(event.payload["eta_predicted"]) == order.eta_at_dispatch
    assert event.payload["eta_error_seconds"] == round((order.delivered_at - order.eta_at_dispatch).total_seconds())
    assert (event.payload["proof"], event.payload["reason"]) == ("pin", "")  # the customer's PIN, at the door
    released = emitted("driver.released", driver_id=order.driver_id)
    assert released.payload == {"reason": "delivered"}
    assert released.correlation_id == event.correlation_id


def test_order_cancelled() -> None:
    order = factories.order_at("preparing")
    services.order_transition(order_id=order.id, to="cancelled", reason="out of dough", reason_code="out_of_stock")
    event = emitted("order.cancelled", order_id=order.id)
    assert event.payload == {"code": order.code, "status": "cancelled", "kitchen_status": "preparing",
                             "reason": "out of dough", "reason_code": "out_of_stock", "previous_status": "preparing"}


def test_order_reassigned() -> None:
    first, second = factories.driver(), factories.driver(name="Otto Other")
    order = factories.order_at("dispatched", driver_obj=first)
    services.order_transition(order_id=order.id, to="dispatched", driver_id=second.id, reason="closer",
                              reassign=True)
    event = emitted("order.reassigned", order_id=order.id)
    assert event.payload == {"code": order.code, "status": "dispatched", "kitchen_status": "confirmed",
                             "previous_driver_id": first.id, "note": "closer"}
    assert event.driver_id == second.id


def test_fleet_auto_dispatch_changed() -> None:
    from django.contrib.auth.models import User

    services.auto_dispatch_set(enabled=True, user=User.objects.create_user("desk"))
    assert emitted("fleet.auto_dispatch_changed").payload == {"enabled": True, "by": "desk"}


def test_delivery_pin_rejected() -> None:
    order = factories.order_at("out_for_delivery")
    wrong = f"{(int(order.delivery_pin) + 5) % 10_000:04d}"
    with pytest.raises(DomainError):
        services.order_transition(order_id=order.id, to="delivered", pin=wrong)
    event = emitted("delivery.pin_rejected", order_id=order.id)
    assert event.payload == {"attempts": 1, "locked": False} and event.driver_id == order.driver_id


def test_restaurant_opened_and_closed() -> None:
    shop = factories.restaurant(name="Da Mario")
    services.restaurant_set_open(restaurant_id=shop.id, is_open=False)
    assert emitted("restaurant.closed").payload == {"restaurant_id": shop.id, "name": "Da Mario"}
    services.restaurant_set_open(restaurant_id=shop.id, is_open=True)
    assert emitted("restaurant.opened").payload == {"restaurant_id": shop.id, "name": "Da Mario"}


def test_menu_item_sold_out_and_available() -> None:
    shop = factories.restaurant()
    item = factories.menu_item(shop, name="Margherita", size="L")
    services.menu_item_set_available(menu_item_id=item.id, available=False)
    expected = {"restaurant_id": shop.id, "menu_item_id": item.id, "name": "Margherita (Large (34 cm))"}
    assert emitted("menu_item.sold_out").payload == expected
    services.menu_item_set_available(menu_item_id=item.id, available=True)
    assert emitted("menu_item.available").payload == expected


def test_driver_location_updated_moves_the_eta() -> None:
    driver = factories.driver(lat=52.50, lng=13.30)
    order = factories.order_at("dispatched", driver_obj=driver)
    services.driver_location_update(driver_id=driver.id, lat=52.5201, lng=13.4051, heading=90.0, speed_kmh=20.0)
    event = emitted("driver.location_updated", driver_id=driver.id)
    assert {k: event.payload[k] for k in ("lat", "lng", "heading", "speed_kmh")} == {
        "lat": 52.5201, "lng": 13.4051, "heading": 90.0, "speed_kmh": 20.0}
    assert datetime.fromisoformat(event.payload["reported_at"])
    assert event.order_id == order.id
    eta = emitted("delivery.eta_updated", order_id=order.id, correlation_id=event.correlation_id)
    assert eta.payload["reason"] == "driver moved"
    assert eta.payload["previous"] is not None


def test_small_moves_do_not_emit_an_eta_event() -> None:
    driver = factories.driver()
    order = factories.order_at("dispatched", driver_obj=driver)
    services.driver_location_update(driver_id=driver.id, lat=float(driver.lat) + 0.00001, lng=float(driver.lng))
    moved = Event.objects.filter(type="driver.location_updated", order_id=order.id).latest("seq")
    assert not Event.objects.filter(type="delivery.eta_updated", correlation_id=moved.correlation_id).exists()


def test_driver_registered() -> None:
    driver = factories.driver(vehicle="ebike")
    event = emitted("driver.registered", driver_id=driver.id)
    assert event.payload == {"name": driver.name, "vehicle": "ebike", "status": "available"}


def test_driver_profile_updated() -> None:
    driver = factories.driver(vehicle="bike")
    services.driver_update_profile(driver_id=driver.id, name="New Name", phone=driver.phone, vehicle="car")
    event = emitted("driver.profile_updated", driver_id=driver.id)
    assert event.payload == {"changed": ["name", "vehicle"], "name": "New Name", "vehicle": "car"}
    assert event.order_id is None  # not on a delivery


def test_driver_status_changed() -> None:
    driver = factories.driver()
    services.driver_set_status(driver_id=driver.id, status="offline")
    event = emitted("driver.status_changed", driver_id=driver.id)
    assert event.payload == {"status": "offline", "previous_status": "available"}


def test_batch_rolled_back() -> None:
    with pytest.raises(ZeroDivisionError):
        with batch(correlation_id="doomed") as events:
            events.add("driver.status_changed", driver_id=1, payload={"status": "offline",
                                                                      "previous_status": "available"})
            1 / 0
    event = emitted("batch.rolled_back", correlation_id="doomed")
    assert event.payload == {"reason": "ZeroDivisionError: division by zero", "attempted": ["driver.status_changed"]}


def test_every_registered_type_has_a_test_above() -> None:
    if not TESTED:
        pytest.skip("meaningful only when the whole module runs")
    assert TESTED == set(EVENT_TYPES), sorted(set(EVENT_TYPES) - TESTED)
