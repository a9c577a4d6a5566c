"""The dispatcher's console: the order panel (its own URL too), only the legal moves, dispatch to
a chosen driver, reassign, cancel with a reason, deliver without the PIN, auto-dispatch."""
from __future__ import annotations

import pytest
from django.test import Client

from events.models import Event
from pizzadelivery.models import Driver, FleetSettings, Order
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def desk(mirror) -> Client:
    client = Client()
    client.force_login(factories.dispatcher_user())
    return client


def panel(desk: Client, order: Order) -> str:
    response = desk.get(f"/dashboard/orders/{order.id}/", **HTMX)
    assert response.status_code == 200
    return response.content.decode()


def test_the_panel_offers_only_the_moves_legal_now(desk: Client) -> None:
    factories.driver()
    placed = panel(desk, factories.order_at("placed"))
    assert 'data-action="cancel"' in placed and 'data-action="dispatch"' not in placed  # not confirmed yet
    confirmed = panel(desk, factories.order_at("confirmed", notes="Ring twice"))
    assert 'data-action="dispatch"' in confirmed and "Ring twice" in confirmed and "Dispatch <kbd>d</kbd>" in confirmed
    dispatched = panel(desk, factories.order_at("dispatched"))
    assert "Reassign to another driver" in dispatched and 'data-action="cancel"' in dispatched
    on_the_road = panel(desk, factories.order_at("out_for_delivery"))
    assert 'data-action="deliver"' in on_the_road and 'data-action="cancel"' not in on_the_road
    done = panel(desk, factories.order_at("delivered"))
    assert "data-action=" not in done and "order.delivered" in done  # the timeline, nothing to do


def test_an_orders_url_opens_the_dashboard_with_its_panel(desk: Client) -> None:
    order = factories.order_at("confirmed")
    page = desk.get(f"/dashboard/orders/{order.id}/").content.decode()
    assert '<div id="order-panel"' in page and f'data-order-id="{order.id}"' in page and "Live feed" in page


def test_dispatch_to_the_chosen_driver_then_reassign(desk: Client) -> None:
    order = factories.order_at("ready")
    first, second = factories.driver(name="Carla"), factories.driver(name="Dieter")
    answer = desk.post(f"/dashboard/orders/{order.id}/dispatch/", {"driver_id": second.id}, **HTMX)
    assert answer.status_code == 200 and "Dispatched to Dieter." in answer.content.decode()
    assert Order.objects.get(pk=order.id).driver_id == second.id
    event = Event.objects.get(type="order.dispatched", order_id=order.id)
    assert event.payload["how"] == "chosen"
    stale = desk.post(f"/dashboard/orders/{order.id}/dispatch/", {"driver_id": first.id}, **HTMX)
    assert stale.status_code == 409  # a dispatch form from before: not silently a reassignment
    assert Order.objects.get(pk=order.id).driver_id == second.id
    assert 'name="reassign" value="1"' in desk.get(f"/dashboard/orders/{order.id}/", **HTMX).content.decode()
    again = desk.post(f"/dashboard/orders/{order.id}/dispatch/", {"driver_id": first.id, "reassign": "1"}, **HTMX)
    assert "Reassigned to Carla." in again.content.decode()
    assert Order.objects.get(pk=order.id).driver_id == first.id
    assert Driver.objects.get(pk=second.id).status == "available"
    busy = desk.post(f"/dashboard/orders/{order.id}/dispatch/", {"driver_id": first.id, "reassign": "1"}, **HTMX)
    assert busy.status_code == 409 and "already has it" in busy.content.decode()


def test_cancel_needs_a_reason_and_says_it_to_the_customer_in_their_words(desk: Client) -> None:
    order = factories.order_at("preparing")
    path = f"/dashboard/orders/{order.id}/cancel/"
    assert desk.post(path, {}, **HTMX).status_code == 400
    assert desk.post(path, {"reason_code": "other"}, **HTMX).status_code == 400  # "Other" needs the note
    assert Order.objects.get(pk=order.id).status == "preparing"
    answer = desk.post(path, {"reason_code": "no_driver", "reason": "fleet down to two"}, **HTMX).content.decode()
    assert "Cancelled; the customer was told." in answer
    assert "We could not find a driver to bring your order in time." in answer  # what the customer read
    assert Order.objects.get(pk=order.id).cancel_code == "no_driver"


def test_deliver_without_the_pin_needs_a_reason(desk: Client) -> None:
    order = factories.order_at("out_for_delivery")
    assert desk.post(f"/dashboard/orders/{order.id}/deliver/", {"reason": " "}, **HTMX).status_code == 400
    desk.post(f"/dashboard/orders/{order.id}/deliver/", {"reason": "customer's phone dead, ID seen"}, **HTMX)
    delivered = Event.objects.get(type="order.delivered", order_id=order.id)
    assert (delivered.payload["proof"], delivered.payload["reason"]) == ("waived", "customer's phone dead, ID seen")


def test_the_auto_dispatch_switch(desk: Client) -> None:
    assert "Auto-dispatch off" in desk.get("/dashboard/auto-dispatch/").content.decode()
    flipped = desk.post("/dashboard/auto-dispatch/", {"enabled": "1"}, **HTMX).content.decode()
    assert "Auto-dispatch on" in flipped and FleetSettings.objects.get().auto_dispatch
    assert desk.post("/dashboard/auto-dispatch/", {"enabled": "maybe"}, **HTMX).status_code == 400


@pytest.mark.parametrize("role", ["kitchen", "driver", "plain"])
def test_other_roles_cannot_use_the_console(role: str, mirror) -> None:
    order = factories.order_at("ready")
    users = {"kitchen": lambda: factories.kitchen_user(order.restaurant), "plain": factories.plain_user,
             "driver": lambda: factories.driver_user(factories.driver())}
    client = Client()
    client.force_login(users[role]())
    assert client.get(f"/dashboard/orders/{order.id}/").status_code == 403
    assert client.post(f"/dashboard/orders/{order.id}/dispatch/", {"driver_id": 1}).status_code == 403
    assert client.post("/dashboard/auto-dispatch/", {"enabled": "1"}).status_code == 403
    assert Order.objects.get(pk=order.id).driver_id is None and not FleetSettings.objects.exists()
