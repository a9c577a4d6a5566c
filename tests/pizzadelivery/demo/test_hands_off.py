"""The simulator shares the city with people: what a person or an integrator touched (through
the API) it leaves alone for a few minutes; a customer's storefront order it serves."""
from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from events.models import Event
from pizzadelivery.demo import simulator as sim
from pizzadelivery.models import Driver, Order
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


def _simulator() -> sim.Simulator:
    simulator = sim.Simulator(speedup=1000, orders_per_minute=0, rng=random.Random(3))
    simulator.tick(now=timezone.now(), seconds=0.001)  # started: what came before is nobody's
    return simulator


def test_a_driver_an_integrator_reports_for_is_not_moved(mirror) -> None:
    driver = factories.driver(lat=52.53, lng=13.42)
    order = factories.order_at("dispatched", driver_obj=driver)
    simulator = _simulator()
    integrator = factories.token_client(factories.admin_user())
    assert integrator.post(f"/api/drivers/{driver.id}/location", {"lat": 52.525, "lng": 13.41},
                           format="json").status_code == 200
    last_seq = Event.objects.order_by("-seq").values_list("seq", flat=True).first()
    for _ in range(3):
        simulator.tick(now=timezone.now(), seconds=2)
    assert not Event.objects.filter(seq__gt=last_seq, driver_id=driver.id).exists()
    assert not Event.objects.filter(seq__gt=last_seq, order_id=order.id).exists()
    here = Driver.objects.get(pk=driver.id)
    assert (float(here.lat), float(here.lng)) == (52.525, 13.41)
    # A few minutes later the simulator takes over again.
    simulator.tick(now=timezone.now() + timedelta(seconds=sim.HANDS_OFF_S + 1), seconds=2)
    moved = Event.objects.filter(seq__gt=last_seq, driver_id=driver.id, type="driver.location_updated")
    assert moved.exists() and all(e.correlation_id.startswith("sim-") for e in moved)


def test_an_order_an_integrator_placed_waits_for_them(mirror) -> None:
    shop = factories.restaurant(prep_minutes=1)
    item = factories.menu_item(shop)
    factories.driver()
    control = factories.order(restaurant_obj=shop)  # from before: the simulator's to serve
    simulator = _simulator()
    integrator = factories.token_client(factories.admin_user())
    placed = integrator.post("/api/orders", {
        "restaurant": shop.id, "items": [{"menu_item": item.id, "quantity": 1}],
        "customer": {"name": "Ada", "phone": "+49 30 123456"},
        "delivery_address": {"text": "Torstraße 1", "lat": 52.53, "lng": 13.41}}, format="json").json()
    later = timezone.now() + timedelta(minutes=3)  # the kitchen would have confirmed and baked by then
    for _ in range(3):
        simulator.tick(now=later, seconds=2)
    assert Order.objects.get(pk=placed["id"]).status == "placed"
    assert Order.objects.get(pk=control.id).status != "placed"
    integrator.post(f"/api/orders/{placed['id']}/transition", {"to": "confirmed"}, format="json")
    for _ in range(3):
        simulator.tick(now=later, seconds=2)
    assert Order.objects.get(pk=placed["id"]).status == "confirmed"  # still theirs: no oven, no driver


def test_a_customers_storefront_order_is_served(mirror) -> None:
    shop = factories.restaurant(prep_minutes=1)
    item = factories.menu_item(shop, size="M")
    simulator = _simulator()
    browser = Client()
    browser.post(f"/restaurants/{shop.slug}/cart/add/", {"item": item.id})
    browser.post(f"/restaurants/{shop.slug}/checkout/", {"name": "Ada", "phone": "+49 30 123456",
                                                         "address": "Lychener Straße 12",
                                                         "district": "prenzlauer-berg", "notes": ""})
    order = Order.objects.get(restaurant=shop)
    placed = Event.objects.get(order_id=order.id, type="order.placed")
    assert placed.correlation_id.startswith("shop-")
    simulator.tick(now=timezone.now() + timedelta(minutes=1), seconds=2)
    assert Order.objects.get(pk=order.id).status == "confirmed"
    confirmed = Event.objects.get(order_id=order.id, type="order.confirmed")
    assert confirmed.correlation_id.startswith("sim-")


def test_an_auto_dispatched_order_is_driven_on(mirror) -> None:
    from pizzadelivery import services

    shop = factories.restaurant(prep_minutes=1)
    driver = factories.driver(lat=float(shop.lat) + 0.001, lng=float(shop.lng))
    order = factories.order_at("ready", restaurant_obj=shop)
    simulator = sim.Simulator(speedup=1000, orders_per_minute=0, rng=random.Random(3))
    simulator.people.catch_up()  # started (not ticked yet: it would dispatch the order itself)
    services.auto_dispatch_set(enabled=True, user=factories.dispatcher_user())
    assert [o.id for o in services.auto_dispatch_pass()] == [order.id]
    dispatched = Event.objects.get(order_id=order.id, type="order.dispatched")
    assert dispatched.correlation_id.startswith("auto-") and dispatched.driver_id == driver.id
    for _ in range(5):  # the driver is 100 m away: at 1000x the simulator has them pick it up and go
        simulator.tick(now=timezone.now(), seconds=2)
    picked_up = Event.objects.get(order_id=order.id, type="order.out_for_delivery")
    assert picked_up.correlation_id.startswith("sim-") and picked_up.driver_id == driver.id
