"""Delivery state math (ETA, progress, distance, arriving) and the fast path's cost."""
from __future__ import annotations

import math
from datetime import datetime, timedelta

import pytest
import redis
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from pizzadelivery import eta
from pizzadelivery.models import Order
from tests import factories
from tests.tracking.helpers import HOME, SHOP, advance, between, delivery_state, move, ready_then_dispatched
from tracking import maps
from tracking.selectors import tracker_snapshot

pytestmark = pytest.mark.django_db(transaction=True)


def road(a: tuple[float, float], b: tuple[float, float]) -> float:
    return eta.road_m(*a, *b)


def seconds_until(iso: str) -> float:
    return (datetime.fromisoformat(iso) - timezone.now()).total_seconds()


def test_mirror_read_is_two_round_trips_and_no_query(mirror, monkeypatch):
    order, driver = ready_then_dispatched()
    move(driver, 52.5213, 13.4057)
    delivery_state(order.id)  # the pool's connection is open and its handshake done
    round_trips = []
    real_send = redis.connection.AbstractConnection.send_packed_command

    def counting_send(self, command, check_health=True):  # counts, then really sends
        round_trips.append(command)
        return real_send(self, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counting_send)
    with CaptureQueriesContext(connection) as queries:
        state = delivery_state(order.id)

    assert state["source"] == "redis"
    assert state["driver"]["location"]["lat"] == 52.5213
    assert len(queries) == 0
    assert 0 < len(round_trips) <= 2


def test_dispatched_distance_goes_via_the_shop(mirror):
    order, driver = ready_then_dispatched()
    here = (52.5150, 13.3950)
    move(driver, *here)

    progress = delivery_state(order.id)["progress"]

    assert progress["distance_remaining_m"] == round(road(here, SHOP) + road(SHOP, HOME))
    assert progress["current_step"] == 4
    assert progress["percent"] == round(100 * 4 / 6)


def test_progress_and_distance_follow_the_driver_home(mirror):
    order, driver = ready_then_dispatched()
    advance(order, "out_for_delivery")
    seen = []
    for fraction in (0.0, 0.5, 0.9):
        here = between(SHOP, HOME, fraction)
        move(driver, *here)
        progress = delivery_state(order.id)["progress"]
        assert progress["distance_remaining_m"] == round(road(here, HOME))
        seen.append(progress["percent"])

    assert seen[0] == round(100 * 5 / 6)      # picked up, not moved yet
    assert seen[0] < seen[1] < seen[2] < 100  # 100 only once handed over
    assert seen[1] == round(100 * 5.5 / 6)


def test_eta_follows_the_driver_and_counts_down_in_whole_minutes(mirror):
    order, driver = ready_then_dispatched()
    advance(order, "out_for_delivery")
    far = between(SHOP, HOME, -1.0)  # as far behind the shop as home is ahead of it
    move(driver, *far)

    state = delivery_state(order.id)

    expected = eta.travel_time(road(far, HOME)) + eta.PARKING
    assert seconds_until(state["eta"]["estimated_arrival"]) == pytest.approx(expected.total_seconds(), abs=5)
    assert state["eta"]["estimated_arrival"] == Order.objects.get(pk=order.id).eta_at.isoformat()
    assert state["eta"]["minutes_remaining"] == math.ceil(state["eta"]["seconds_remaining"] / 60)

    move(driver, *between(SHOP, HOME, 0.5))
    closer = delivery_state(order.id)["eta"]
    assert closer["seconds_remaining"] < state["eta"]["seconds_remaining"] - 60


def test_arriving_when_about_a_minute_away(mirror):
    order, driver = ready_then_dispatched()
    advance(order, "out_for_delivery")
    move(driver, *between(SHOP, HOME, 0.5))
    assert delivery_state(order.id)["arriving"] is False

    move(driver, HOME[0] - 0.002, HOME[1])  # ~220 m away: well under a minute at city speed
    state = delivery_state(order.id)

    assert eta.travel_time(road((HOME[0] - 0.002, HOME[1]), HOME)).total_seconds() < eta.ARRIVING_SECONDS
    assert state["arriving"] is True


def test_not_arriving_while_heading_to_the_shop_next_door(mirror):
    order, driver = ready_then_dispatched()
    move(driver, *HOME)  # at the customer's door, but the pizza is still at the shop

    assert delivery_state(order.id)["arriving"] is False


def test_early_dispatch_shows_the_oven_then_ready(mirror):
    driver = factories.driver()
    order = advance(factories.order(lat=HOME[0], lng=HOME[1]), "confirmed", "preparing", "dispatched",
                    driver=driver)

    before = delivery_state(order.id)["progress"]
    advance(order, "ready")
    after = delivery_state(order.id)["progress"]

    reached = lambda progress: {s["key"]: s["reached"] for s in progress["steps"]}  # noqa: E731
    assert reached(before) == {"placed": True, "confirmed": True, "preparing": True, "ready": False,
                               "dispatched": True, "out_for_delivery": False, "delivered": False}
    assert reached(after)["ready"] is True
    assert before["current_step"] == after["current_step"] == 4


def test_kitchen_time_keeps_the_eta_while_the_oven_works(mirror):
    driver = factories.driver()
    order = advance(factories.order(lat=HOME[0], lng=HOME[1]), "confirmed", "preparing", "dispatched",
                    driver=driver)

    state = delivery_state(order.id)

    oven_done = order.preparing_at + timedelta(minutes=order.restaurant.prep_minutes)
    expected = oven_done + eta.HANDOVER + eta.travel_time(road(SHOP, HOME)) + eta.PARKING
    assert abs(datetime.fromisoformat(state["eta"]["estimated_arrival"]) - expected) < timedelta(seconds=2)


def test_before_dispatch_the_page_gets_an_estimate(mirror):
    order = factories.order_at("preparing", lat=HOME[0], lng=HOME[1])

    state = tracker_snapshot(order.id).state

    assert state["driver"] is None
    assert state["progress"]["current_step"] == 2
    assert state["progress"]["distance_remaining_m"] == round(road(SHOP, HOME))
    oven_done = order.preparing_at + timedelta(minutes=12)
    expected = oven_done + eta.HANDOVER + eta.travel_time(road(SHOP, HOME)) + eta.PARKING
    assert abs(datetime.fromisoformat(state["eta"]["estimated_arrival"]) - expected) < timedelta(seconds=2)


def test_cancelled_order_stops_where_it_was(mirror):
    order = advance(factories.order(), "confirmed", "preparing", "cancelled")

    state = tracker_snapshot(order.id).state

    assert state["status"] == "cancelled"
    assert state["progress"]["current_step"] == 2
    assert state["eta"]["estimated_arrival"] is None
    assert state["arriving"] is False


def test_updated_at_is_the_latest_change(mirror):
    order, driver = ready_then_dispatched()
    move(driver, 52.5211, 13.4052)

    state = delivery_state(order.id)

    reported = driver.__class__.objects.get(pk=driver.id).location_updated_at
    assert state["updated_at"] == max(reported, Order.objects.get(pk=order.id).updated_at).isoformat()


def test_snapshot_draws_the_path_travelled_on_this_order_only(mirror):
    driver = factories.driver()
    move(driver, 52.50, 13.30)  # before the order: not part of its path
    order, driver = ready_then_dispatched(driver)
    for fraction in (0.2, 0.4, 0.6):
        move(driver, *between(SHOP, HOME, fraction))

    route = tracker_snapshot(order.id).route

    assert len(route.travelled.split()) == 3
    assert route.driver is not None
    assert len(route.remaining.split()) == 3  # driver -> shop -> home


def test_the_map_is_fitted_inside_the_view_box():
    route = maps.route_map(restaurant=SHOP, destination=HOME, driver=between(SHOP, HOME, 0.3),
                           travelled=[SHOP, between(SHOP, HOME, 0.3)], status="out_for_delivery")

    for point in (route.restaurant, route.destination, route.driver):
        assert maps.PAD_X - 0.5 <= point.x <= route.width - maps.PAD_X + 0.5
        assert maps.PAD_TOP - 0.5 <= point.y <= route.height - maps.PAD_BOTTOM + 0.5
    assert route.destination.y < route.restaurant.y  # north is up
    assert route.destination.x > route.restaurant.x  # east is right
    assert len(route.remaining.split()) == 2
    assert route.scale_label.endswith(("m", "km"))


def test_the_map_of_one_spot_is_still_a_map():
    route = maps.route_map(restaurant=SHOP, destination=SHOP, driver=None, travelled=[], status="placed")

    assert route.restaurant == route.destination
    assert route.scale_px > 0
    assert route.travelled == ""


def test_long_paths_are_thinned_but_end_at_the_driver():
    path = [between(SHOP, HOME, i / 999) for i in range(1000)]

    route = maps.route_map(restaurant=SHOP, destination=HOME, driver=path[-1], travelled=path,
                           status="out_for_delivery")

    points = route.travelled.split()
    assert len(points) <= maps.MAX_DRAWN_POINTS + 1
    assert points[-1] == route.driver.svg


def test_the_route_is_read_incrementally_and_matches_a_fresh_read(settings) -> None:
    from tracking import selectors

    settings.TRACKER_ROUTE_POINTS = 5
    order = factories.order_at("out_for_delivery")
    for step in range(3):
        move(order.driver, 52.50 + step / 1000, 13.40)
    cache = selectors._Paths()
    assert cache.get(order.id) == [(52.50 + step / 1000, 13.40) for step in range(3)]
    for step in range(3, 8):
        move(order.driver, 52.50 + step / 1000, 13.40)

    with CaptureQueriesContext(connection) as queries:
        incremental = cache.get(order.id)
    assert incremental == selectors._Paths().get(order.id)  # what a process that never drew it reads
    assert incremental == [(52.50 + step / 1000, 13.40) for step in range(3, 8)]  # the latest five
    (query,) = queries.captured_queries
    assert '"seq" >' in query["sql"]  # only what is newer than the last report it had
