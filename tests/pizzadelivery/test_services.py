from __future__ import annotations

import threading

import pytest
from django.db import connection

from events.models import Event
from pizzadelivery import services
from pizzadelivery.infra.errors import DomainError
from pizzadelivery.models import Driver, Order
from pizzadelivery.services import InvalidTransition
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)

STATUSES = ["placed", "confirmed", "preparing", "ready", "dispatched", "out_for_delivery", "delivered",
            "cancelled"]

# (from, to) pairs that are legal; every other pair must be refused.
LEGAL = {
    ("placed", "confirmed"), ("confirmed", "preparing"), ("preparing", "ready"),
    ("confirmed", "dispatched"), ("preparing", "dispatched"), ("ready", "dispatched"),
    ("dispatched", "out_for_delivery"),
    ("out_for_delivery", "delivered"),
    ("placed", "cancelled"), ("confirmed", "cancelled"), ("preparing", "cancelled"), ("ready", "cancelled"),
    ("dispatched", "cancelled"),
    # kitchen keeps moving after an early dispatch
    ("dispatched", "preparing"), ("dispatched", "ready"),
}


def _legal_for(order: Order, to: str) -> bool:
    if (order.status, to) not in LEGAL:
        return False
    if order.status == "dispatched":
        if to == "out_for_delivery":
            return order.kitchen_status == "ready"
        if to == "preparing":
            return order.kitchen_status == "confirmed"
        if to == "ready":
            return order.kitchen_status == "preparing"
    return True


@pytest.mark.parametrize("start", STATUSES)
@pytest.mark.parametrize("to", STATUSES)
def test_every_transition_is_legal_or_refused_without_change(start: str, to: str) -> None:
    order = factories.order_at(start)
    expected_legal = _legal_for(order, to)
    spare = factories.driver()
    events_before = Event.objects.count()
    pin = order.delivery_pin if to == "delivered" and order.delivery_pin else None  # the driver asks for it
    if expected_legal:
        moved = services.order_transition(order_id=order.id, to=to, pin=pin,
                                          driver_id=spare.id if to == "dispatched" else None)
        if start == "dispatched" and to in ("preparing", "ready"):
            assert (moved.status, moved.kitchen_status) == ("dispatched", to)
        else:
            assert moved.status == to
        assert Event.objects.count() > events_before
        assert getattr(Order.objects.get(pk=order.id), f"{to}_at") is not None
    else:
        before = Order.objects.values().get(pk=order.id)
        with pytest.raises(InvalidTransition) as refused:
            services.order_transition(order_id=order.id, to=to, pin=pin,
                                      driver_id=spare.id if to == "dispatched" else None)
        assert refused.value.code == "invalid_transition"
        assert Order.objects.values().get(pk=order.id) == before
        assert Event.objects.count() == events_before  # a refusal leaves no trace


def test_placed_is_never_a_target() -> None:
    order = factories.order_at("confirmed")
    with pytest.raises(InvalidTransition):
        services.order_transition(order_id=order.id, to="placed")


def test_early_dispatch_keeps_the_kitchen_visible() -> None:
    order = factories.order_at("dispatched")
    assert (order.status, order.kitchen_status) == ("dispatched", "confirmed")
    services.order_transition(order_id=order.id, to="preparing")
    order = services.order_transition(order_id=order.id, to="ready")
    assert (order.status, order.kitchen_status) == ("dispatched", "ready")
    assert order.preparing_at and order.ready_at
    not_ready = factories.order_at("dispatched")
    with pytest.raises(InvalidTransition):
        services.order_transition(order_id=not_ready.id, to="out_for_delivery")


def test_dispatch_without_driver_picks_the_nearest_available() -> None:
    restaurant = factories.restaurant()
    far = factories.driver(lat=52.56, lng=13.45)
    near = factories.driver(lat=52.5205, lng=13.4055)
    factories.driver(lat=52.5201, lng=13.4051, status="offline")
    order = factories.order_at("confirmed", restaurant_obj=restaurant)
    from events.publisher import rebuild_projections

    rebuild_projections()
    moved = services.order_transition(order_id=order.id, to="dispatched")
    assert moved.driver_id == near.id
    assert Driver.objects.get(pk=near.id).status == "busy"
    assert Driver.objects.get(pk=far.id).status == "available"


def test_dispatch_with_no_driver_available_is_refused() -> None:
    order = factories.order_at("confirmed")
    with pytest.raises(DomainError) as refused:
        services.order_transition(order_id=order.id, to="dispatched")
    assert refused.value.code == "no_driver_available"
    assert Order.objects.get(pk=order.id).status == "confirmed"


def test_a_busy_driver_cannot_take_a_second_delivery() -> None:
    busy = factories.driver()
    factories.order_at("dispatched", driver_obj=busy)
    second = factories.order_at("confirmed")
    with pytest.raises(DomainError) as refused:
        services.order_transition(order_id=second.id, to="dispatched", driver_id=busy.id)
    assert refused.value.code == "driver_unavailable"


def test_delivery_releases_the_driver_and_records_eta_accuracy() -> None:
    order = factories.order_at("delivered")
    assert Driver.objects.get(pk=order.driver_id).status == "available"
    delivered = Event.objects.get(order_id=order.id, type="order.delivered")
    assert delivered.payload["eta_predicted"] is not None
    assert isinstance(delivered.payload["eta_error_seconds"], int)
    released = Event.objects.get(type="driver.released", driver_id=order.driver_id)
    assert released.correlation_id == delivered.correlation_id


def test_cancelling_a_dispatched_order_releases_the_driver_in_the_same_batch() -> None:
    order = factories.order_at("dispatched")
    driver_id = order.driver_id
    services.order_transition(order_id=order.id, to="cancelled", reason="customer changed mind")
    assert Driver.objects.get(pk=driver_id).status == "available"
    cancelled = Event.objects.get(order_id=order.id, type="order.cancelled")
    released = Event.objects.get(type="driver.released", driver_id=driver_id)
    assert cancelled.correlation_id == released.correlation_id
    assert cancelled.payload["previous_status"] == "dispatched"


def test_concurrent_transitions_of_one_order_cannot_both_win() -> None:
    """Row lock on PostgreSQL, the IMMEDIATE write lock on SQLite: one dispatch wins."""
    order = factories.order_at("confirmed")
    drivers = [factories.driver(), factories.driver()]
    barrier = threading.Barrier(2)
    results: list[str] = []

    def dispatch(driver: Driver) -> None:
        barrier.wait()
        try:
            services.order_transition(order_id=order.id, to="dispatched", driver_id=driver.id)
            results.append("won")
        except DomainError as exc:
            results.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=dispatch, args=(d,)) for d in drivers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["invalid_transition", "won"]
    assert Driver.objects.filter(status="busy").count() == 1
    assert Event.objects.filter(type="order.dispatched", order_id=order.id).count() == 1


def test_order_create_validates_before_storing() -> None:
    restaurant = factories.restaurant()
    item = factories.menu_item(restaurant)
    other = factories.menu_item(factories.restaurant())
    cases = [
        ({"lines": []}, "empty_order"),
        ({"lines": [services.LineInput(item.id, 0)]}, "invalid_quantity"),
        ({"lines": [services.LineInput(item.id, 51)]}, "invalid_quantity"),
        ({"lines": [services.LineInput(other.id, 1)]}, "invalid_menu_item"),
        ({"lat": 95.0}, "invalid_location"),
        ({"lat": 48.1, "lng": 11.5}, "out_of_delivery_area"),
    ]
    for override, code in cases:
        kwargs = {"restaurant_id": restaurant.id, "lines": [services.LineInput(item.id, 1)],
                  "customer_name": "A", "customer_phone": "12345", "address": "x", "lat": 52.53, "lng": 13.41}
        kwargs.update(override)
        with pytest.raises(DomainError) as refused:
            services.order_create(**kwargs)
        assert refused.value.code == code
    assert Order.objects.count() == 0
    assert not Event.objects.filter(type__startswith="order.").exists()


def test_order_total_is_exact_decimal() -> None:
    restaurant = factories.restaurant()
    item = factories.menu_item(restaurant, price="10.10")
    order = services.order_create(restaurant_id=restaurant.id, lines=[services.LineInput(item.id, 3)],
                                  customer_name="A", customer_phone="12345", address="x", lat=52.53, lng=13.41)
    assert str(Order.objects.get(pk=order.id).total) == "30.30"


# --- proof of delivery ------------------------------------------------------------------------

def test_dispatch_makes_a_four_digit_pin_the_events_never_carry() -> None:
    order = factories.order_at("dispatched")
    assert len(order.delivery_pin) == 4 and order.delivery_pin.isdigit()
    for event in Event.objects.filter(order_id=order.id):  # events reach feeds and integrators: never the PIN
        assert "delivery_pin" not in event.payload and order.delivery_pin not in event.payload.values()


def test_the_right_pin_delivers_and_says_so_in_the_event() -> None:
    order = factories.order_at("out_for_delivery")
    services.order_transition(order_id=order.id, to="delivered", pin=order.delivery_pin)
    delivered = Event.objects.get(order_id=order.id, type="order.delivered")
    assert (delivered.payload["proof"], delivered.payload["reason"]) == ("pin", "")


def test_without_pin_or_reason_nothing_happens() -> None:
    order = factories.order_at("out_for_delivery")
    before = Event.objects.count()
    with pytest.raises(DomainError) as refused:
        services.order_transition(order_id=order.id, to="delivered")
    assert refused.value.code == "pin_required"
    assert Order.objects.get(pk=order.id).status == "out_for_delivery" and Event.objects.count() == before


def test_wrong_pins_are_counted_and_lock_after_five() -> None:
    order = factories.order_at("out_for_delivery")
    wrong = f"{(int(order.delivery_pin) + 1) % 10_000:04d}"
    for attempt in range(1, 5):
        with pytest.raises(DomainError) as refused:
            services.order_transition(order_id=order.id, to="delivered", pin=wrong)
        assert (refused.value.code, refused.value.status_code) == ("invalid_pin", 400)
        assert refused.value.extra["tries_left"] == 5 - attempt
        assert Order.objects.get(pk=order.id).pin_attempts == attempt  # counted though refused
    with pytest.raises(DomainError) as locked:
        services.order_transition(order_id=order.id, to="delivered", pin=wrong)
    assert (locked.value.code, locked.value.status_code) == ("pin_locked", 409)
    with pytest.raises(DomainError) as still_locked:  # even the right one, now
        services.order_transition(order_id=order.id, to="delivered", pin=order.delivery_pin)
    assert still_locked.value.code == "pin_locked"
    rejected = list(Event.objects.filter(order_id=order.id, type="delivery.pin_rejected").order_by("seq"))
    assert [e.payload for e in rejected] == [{"attempts": n, "locked": n == 5} for n in range(1, 6)]
    assert Order.objects.get(pk=order.id).status == "out_for_delivery"
    # A dispatcher completes it without the PIN, giving a reason (recorded in the event).
    services.order_transition(order_id=order.id, to="delivered", reason="customer's phone was dead; ID seen")
    delivered = Event.objects.get(order_id=order.id, type="order.delivered")
    assert delivered.payload["proof"] == "waived"
    assert delivered.payload["reason"] == "customer's phone was dead; ID seen"


def test_restaurant_and_menu_switches_are_events_the_storefront_honours() -> None:
    shop = factories.restaurant()
    item = factories.menu_item(shop)
    services.menu_item_set_available(menu_item_id=item.id, available=False)
    with pytest.raises(DomainError) as sold_out:
        factories.order(restaurant_obj=shop)
    assert sold_out.value.code == "menu_item_unavailable"
    services.menu_item_set_available(menu_item_id=item.id, available=True)
    services.restaurant_set_open(restaurant_id=shop.id, is_open=False)
    with pytest.raises(DomainError) as closed:
        factories.order(restaurant_obj=shop)
    assert closed.value.code == "restaurant_closed"
    services.restaurant_set_open(restaurant_id=shop.id, is_open=False)  # no change: no event
    assert list(Event.objects.filter(type__in=["menu_item.sold_out", "menu_item.available", "restaurant.closed",
                                               "restaurant.opened"]).order_by("seq").values_list("type", flat=True)) \
        == ["menu_item.sold_out", "menu_item.available", "restaurant.closed"]


# --- reassigning, auto-dispatch, stationary drivers -------------------------------------------

def test_reassigning_releases_the_previous_driver_in_the_same_batch() -> None:
    first, second = factories.driver(), factories.driver()
    order = factories.order_at("dispatched", driver_obj=first)
    pin, promised = order.delivery_pin, order.eta_at_dispatch
    with pytest.raises(DomainError) as plain:  # a plain second dispatch is refused: say it is a reassignment
        services.order_transition(order_id=order.id, to="dispatched", driver_id=second.id)
    assert plain.value.code == "invalid_transition" and Order.objects.get(pk=order.id).driver_id == first.id
    services.order_transition(order_id=order.id, to="dispatched", driver_id=second.id, reassign=True)
    moved = Order.objects.get(pk=order.id)
    assert (moved.driver_id, moved.delivery_pin, moved.eta_at_dispatch) == (second.id, pin, promised)
    assert Driver.objects.get(pk=first.id).status == "available" and Driver.objects.get(pk=second.id).status == "busy"
    reassigned = Event.objects.get(type="order.reassigned", order_id=order.id)
    batch = list(Event.objects.filter(correlation_id=reassigned.correlation_id).values_list("type", flat=True))
    assert {"driver.released", "order.reassigned", "driver.assigned"} <= set(batch)
    assert reassigned.payload["previous_driver_id"] == first.id
    with pytest.raises(DomainError) as same:
        services.order_transition(order_id=order.id, to="dispatched", driver_id=second.id, reassign=True)
    assert same.value.code == "invalid_transition"


def test_no_reassigning_once_picked_up() -> None:
    for status in ("ready", "out_for_delivery"):  # nothing to reassign yet; too late
        order = factories.order_at(status)
        with pytest.raises(DomainError) as refused:
            services.order_transition(order_id=order.id, to="dispatched", driver_id=factories.driver().id,
                                      reassign=True)
        assert refused.value.code == "invalid_transition"


def test_auto_dispatch_sends_the_nearest_free_driver_to_ready_orders_only_when_on() -> None:
    from django.contrib.auth.models import User

    near = factories.driver(lat=factories.CITY[0] + 0.001, lng=factories.CITY[1])
    far = factories.driver(lat=factories.CITY[0] + 0.05, lng=factories.CITY[1])
    ready = factories.order_at("ready")
    slow = factories.order_at("preparing", restaurant_obj=factories.restaurant(prep_minutes=45))
    assert services.auto_dispatch_pass() == []  # off: nothing
    dispatcher = User.objects.create_user("desk")
    services.auto_dispatch_set(enabled=True, user=dispatcher)
    dispatched = services.auto_dispatch_pass()
    assert [o.id for o in dispatched] == [ready.id]
    assert Order.objects.get(pk=ready.id).driver_id == near.id
    event = Event.objects.get(type="order.dispatched", order_id=ready.id)
    assert event.payload["how"] == "auto" and event.payload["note"].startswith(f"auto-dispatch: {near.name} was")
    assert "the pizza is ready" in event.payload["note"]
    assert Order.objects.get(pk=slow.id).driver_id is None  # 45 minutes of oven left: not yet
    assert Driver.objects.get(pk=far.id).status == "available"
    toggled = Event.objects.get(type="fleet.auto_dispatch_changed")
    assert toggled.payload == {"enabled": True, "by": "desk"}


def test_a_driver_moves_only_when_the_position_changes() -> None:
    driver = factories.driver()
    services.driver_location_update(driver_id=driver.id, lat=52.52, lng=13.40)
    moved_at = Driver.objects.get(pk=driver.id).moved_at
    services.driver_location_update(driver_id=driver.id, lat=52.52005, lng=13.40005)  # a few metres: standing
    assert Driver.objects.get(pk=driver.id).moved_at == moved_at
    services.driver_location_update(driver_id=driver.id, lat=52.521, lng=13.40)  # ~110 m
    assert Driver.objects.get(pk=driver.id).moved_at > moved_at
