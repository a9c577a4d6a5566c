"""The kitchen screen's pages and actions: a kitchen moves, cancels, opens and sells out only its
own pizzeria's things, each through a service, and gets its fragment back."""
from __future__ import annotations

import pytest
from django.test import Client

from events.models import Event
from pizzadelivery.models import MenuItem, Order, Restaurant
from pizzadelivery.tokens import tracking_token_for
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def shop() -> Restaurant:
    shop = factories.restaurant(name="Da Mario")
    factories.menu_item(shop, name="Margherita")
    return shop


@pytest.fixture
def kitchen(shop: Restaurant) -> Client:
    client = Client()
    client.force_login(factories.kitchen_user(shop))
    return client


def test_the_screen_shows_only_its_own_pizzerias_orders(kitchen: Client, shop: Restaurant, mirror) -> None:
    mine = factories.order_at("confirmed", restaurant_obj=shop, notes="Ring twice")
    other = factories.order_at("placed", restaurant_obj=factories.restaurant(name="Da Luigi"))
    gone = factories.order_at("out_for_delivery", restaurant_obj=shop)  # picked up: off the board
    page = kitchen.get("/kitchen/").content.decode()
    assert mine.code in page and "Ring twice" in page and "Into the oven" in page
    assert other.code not in page and gone.code not in page and "Da Luigi" not in page


def test_a_kitchen_moves_its_order_through_its_stages(kitchen: Client, shop: Restaurant, mirror) -> None:
    order = factories.order_at("placed", restaurant_obj=shop)
    for to, next_label in (("confirmed", "Into the oven"), ("preparing", "Ready"), ("ready", "Waiting for pickup")):
        response = kitchen.post(f"/kitchen/orders/{order.id}/move/", {"to": to}, **HTMX)
        assert response.status_code == 200
        html = response.content.decode()
        assert f'id="kitchen-{shop.id}"' in html and 'hx-swap-oob="true"' in html and next_label in html
        assert Order.objects.get(pk=order.id).kitchen_status == to
    refused = kitchen.post(f"/kitchen/orders/{order.id}/move/", {"to": "dispatched"}, **HTMX)
    assert refused.status_code == 400 and Order.objects.get(pk=order.id).status == "ready"
    again = kitchen.post(f"/kitchen/orders/{order.id}/move/", {"to": "ready"}, **HTMX)
    assert again.status_code == 409 and "cannot go from ready to ready" in again.content.decode()


def test_without_javascript_a_move_comes_back_to_the_page(kitchen: Client, shop: Restaurant, mirror) -> None:
    order = factories.order_at("placed", restaurant_obj=shop)
    response = kitchen.post(f"/kitchen/orders/{order.id}/move/", {"to": "confirmed"})
    assert response.status_code == 302 and response["Location"] == "/kitchen/"


def test_cancel_asks_why_and_the_customer_reads_their_own_words(kitchen: Client, shop: Restaurant, mirror) -> None:
    order = factories.order_at("preparing", restaurant_obj=shop)
    form = kitchen.get(f"/kitchen/orders/{order.id}/cancel/").content.decode()
    assert "Out of stock" in form and "Customer asked" in form  # the page without JavaScript
    assert kitchen.post(f"/kitchen/orders/{order.id}/cancel/", {"reason": "no"}, **HTMX).status_code == 400
    response = kitchen.post(f"/kitchen/orders/{order.id}/cancel/",
                            {"reason_code": "out_of_stock", "reason": "Mozzarella delivery missed"}, **HTMX)
    assert response.status_code == 200 and order.code not in response.content.decode()
    cancelled = Order.objects.get(pk=order.id)
    assert (cancelled.status, cancelled.cancel_code) == ("cancelled", "out_of_stock")
    tracker = Client().get(f"/track/{tracking_token_for(order.id)}/").content.decode()
    assert "The pizzeria ran out of something your order needs" in tracker and "Mozzarella" not in tracker


def test_open_close_and_sold_out_reach_the_storefront_at_once(kitchen: Client, shop: Restaurant, mirror) -> None:
    item = shop.menu_items.get()
    assert kitchen.post(f"/kitchen/menu-items/{item.id}/", {"available": "0"}, **HTMX).status_code == 200
    assert not MenuItem.objects.get(pk=item.id).is_available
    customer = Client()
    added = customer.post(f"/restaurants/{shop.slug}/cart/add/", {"item": item.id}, **HTMX)
    assert added.status_code == 409 and "sold out" in added.content.decode()
    assert kitchen.post(f"/kitchen/menu-items/{item.id}/", {"available": "1"}, **HTMX).status_code == 200
    assert kitchen.post(f"/kitchen/restaurants/{shop.id}/open/", {"open": "0"}, **HTMX).status_code == 200
    assert "closed right now" in customer.post(f"/restaurants/{shop.slug}/cart/add/", {"item": item.id},
                                                **HTMX).content.decode()
    assert list(Event.objects.filter(type__startswith="menu_item.").values_list("type", flat=True)) == [
        "menu_item.sold_out", "menu_item.available"]
    assert Event.objects.filter(type="restaurant.closed").count() == 1


def test_another_kitchens_things_are_refused(kitchen: Client, mirror) -> None:
    other = factories.restaurant(name="Da Luigi")
    item = factories.menu_item(other)
    order = factories.order_at("placed", restaurant_obj=other)
    assert kitchen.post(f"/kitchen/orders/{order.id}/move/", {"to": "confirmed"}, **HTMX).status_code == 403
    assert kitchen.post(f"/kitchen/orders/{order.id}/cancel/", {"reason_code": "other"}, **HTMX).status_code == 403
    assert kitchen.post(f"/kitchen/restaurants/{other.id}/open/", {"open": "0"}, **HTMX).status_code == 403
    assert kitchen.post(f"/kitchen/menu-items/{item.id}/", {"available": "0"}, **HTMX).status_code == 403
    assert Order.objects.get(pk=order.id).status == "placed" and Restaurant.objects.get(pk=other.id).is_open


@pytest.mark.parametrize("role", ["anonymous", "plain", "driver", "dispatcher"])
def test_other_roles_do_not_get_the_screen(role: str, mirror) -> None:
    client = Client()
    users = {"plain": factories.plain_user, "dispatcher": factories.dispatcher_user,
             "driver": lambda: factories.driver_user(factories.driver())}
    if role in users:
        client.force_login(users[role]())
    response = client.get("/kitchen/")
    if role == "anonymous":
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    else:
        assert response.status_code == 403
