from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from events.models import Event
from events.publisher import PublishedEvent
from events.registry import EVENT_TYPES
from pizzadelivery import services
from pizzadelivery.infra.errors import DomainError
from statedash import fragments
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


def test_every_event_type_reads_as_a_sentence(mirror) -> None:
    delivered = factories.order_at("delivered")
    dispatched = factories.order_at("dispatched")
    services.order_transition(order_id=dispatched.id, to="cancelled", reason="customer called")
    driver = factories.driver(status="offline")
    services.driver_set_status(driver_id=driver.id, status="available")
    services.driver_location_update(driver_id=driver.id, lat=52.53, lng=13.40)
    services.driver_update_profile(driver_id=driver.id, vehicle="car")
    on_the_road = factories.order_at("out_for_delivery")
    with pytest.raises(DomainError):
        services.order_transition(order_id=on_the_road.id, to="delivered", pin="0000" if on_the_road.delivery_pin
                                  != "0000" else "0001")
    item = factories.menu_item(on_the_road.restaurant)
    services.menu_item_set_available(menu_item_id=item.id, available=False)
    services.menu_item_set_available(menu_item_id=item.id, available=True)
    services.restaurant_set_open(restaurant_id=on_the_road.restaurant_id, is_open=False)
    services.restaurant_set_open(restaurant_id=on_the_road.restaurant_id, is_open=True)
    ready = factories.order_at("ready")
    services.order_transition(order_id=ready.id, to="dispatched", driver_id=factories.driver().id)
    services.order_transition(order_id=ready.id, to="dispatched", driver_id=factories.driver().id,
                              reassign=True)
    services.auto_dispatch_set(enabled=True, user=User.objects.create_user("desk"))
    events = list(Event.objects.order_by("seq"))
    rolled_back = PublishedEvent(seq=10**6, id="x", type="batch.rolled_back", correlation_id="abc", order_id=None,
                                 driver_id=None, payload={"reason": "IntegrityError: boom", "attempted": []},
                                 occurred_at=timezone.now())
    items = fragments.feed_items([*events, rolled_back])
    assert {item.type for item in items} == set(EVENT_TYPES)
    for item in items:
        assert item.summary, item.type
    by_type = {item.type: item for item in items}
    assert by_type["order.cancelled"].summary == "cancelled at dispatched: customer called"
    assert by_type["order.cancelled"].tone == "bad"
    assert by_type["driver.assigned"].order_code  # resolved from the order id
    assert by_type["order.delivered"].order_code == delivered.code
    assert by_type["driver.status_changed"].summary == f"{driver.name}: offline → available"
    assert by_type["driver.profile_updated"].summary == f"{driver.name}: profile edited (vehicle)"
    assert by_type["delivery.pin_rejected"].summary == "wrong PIN (1 of 5)"
    assert by_type["menu_item.sold_out"].summary.endswith("sold out")
    assert by_type["fleet.auto_dispatch_changed"].summary == "auto-dispatch on (desk)"


def test_describe_ignores_unknown_types() -> None:
    event = SimpleNamespace(type="order.teleported", payload={}, driver_id=None)
    assert fragments.describe(event, {}, {}) == ""


def test_health_panel_reads_every_relay_state() -> None:
    base = {"generated_at": "2025-03-14T01:30:00+01:00", "health": {
        "database": {"status": "ok", "latency_ms": 0.4}, "redis": {"status": "ok", "latency_ms": 0.2},
        "channel_layer": {"status": "ok", "latency_ms": 0.3}, "websockets": {"status": "ok", "open": 0, "by_kind": {}}}}
    cases = [({"pending_batches": None, "oldest_pending_age_seconds": None}, "unknown"),
             ({"pending_batches": 0, "oldest_pending_age_seconds": None}, "outbox empty"),
             ({"pending_batches": 2, "oldest_pending_age_seconds": 7.4}, "2 waiting, oldest 7 s"),
             # published between the count and the look-up of the oldest
             ({"pending_batches": 1, "oldest_pending_age_seconds": None}, "1 waiting")]
    for relay, detail in cases:
        state = {**base, "health": {**base["health"], "relay": {"status": "ok", **relay}}}
        rows = {row["name"]: row["detail"] for row in fragments._health_rows(state)}
        assert rows["Relay backlog"] == detail
