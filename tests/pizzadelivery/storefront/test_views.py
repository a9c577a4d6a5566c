"""Storefront pages: pizzerias, menu, session cart, checkout (landing on the tracker), languages."""
from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from events.models import Event
from pizzadelivery import geocoding
from pizzadelivery.models import MenuItem, Order, Restaurant
from pizzadelivery.services import MAX_QUANTITY
from pizzadelivery.tokens import order_id_from_token
from tests import factories
from tests.nominatim_stand_in import hit

pytestmark = pytest.mark.django_db(transaction=True)

HTMX = {"HTTP_HX_REQUEST": "true"}
CUSTOMER = {"name": "Grace Hopper", "phone": "+49 30 555 0199", "address": "Lychener Straße 12",
            "district": "prenzlauer-berg", "notes": "Ring twice"}


@pytest.fixture
def shop() -> Restaurant:
    restaurant = factories.restaurant(name="Forno Uno", slug="forno-uno", address="Kastanienallee 28, Berlin",
                                      description="Wood-fired since 2009.")
    for size, price in (("S", "8.05"), ("M", "10.50"), ("L", "13.00")):
        factories.menu_item(restaurant, name="Margherita", size=size, price=Decimal(price),
                            description="Tomato, fior di latte, basil")
    factories.menu_item(restaurant, name="Tiramisù", size="-", price=Decimal("5.50"))
    return restaurant


def item(restaurant: Restaurant, name: str, size: str) -> MenuItem:
    return restaurant.menu_items.get(name=name, size=size)


def add(client: Client, restaurant: Restaurant, menu_item: MenuItem, **extra: str):
    return client.post(reverse("cart-add", args=[restaurant.slug]), {"item": menu_item.id}, **extra)


def test_storefront_lists_pizzerias_open_and_closed(client: Client, shop: Restaurant) -> None:
    closed = factories.restaurant(name="Trattoria Chiusa", is_open=False, address="Kantstraße 70, Berlin")
    factories.menu_item(closed, name="Funghi", size="M", price=Decimal("9.90"))

    response = client.get("/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Forno Uno" in html and "Trattoria Chiusa" in html
    assert "Kastanienallee 28, Berlin" in html and "Wood-fired since 2009." in html
    assert "Pizza from €8.05" in html  # the cheapest pizza, not the dessert
    assert html.index("Forno Uno") < html.index("Trattoria Chiusa")  # open first
    assert 'class="badge ok">Open<' in html and 'class="badge bad">Closed<' in html
    menu_url = reverse("restaurant-menu", args=[shop.slug])
    assert f'href="{menu_url}"' in html and f'hx-get="{menu_url}"' in html  # works without JS too


def test_menu_shows_every_size_with_exact_prices(client: Client, shop: Restaurant) -> None:
    response = client.get(reverse("restaurant-menu", args=[shop.slug]))

    assert response.status_code == 200
    html = response.content.decode()
    for price in ("€8.05", "€10.50", "€13.00", "€5.50"):
        assert price in html
    assert html.index("€8.05") < html.index("€10.50") < html.index("€13.00")  # S, M, L
    assert "Your cart is empty" in html
    assert "{#" not in html and "{%" not in html  # no template comment leaks into the page
    assert client.get(reverse("restaurant-menu", args=["no-such-pizzeria"])).status_code == 404


def test_cart_add_with_htmx_answers_the_cart_fragment(client: Client, shop: Restaurant) -> None:
    medium = item(shop, "Margherita", "M")

    add(client, shop, medium, **HTMX)
    response = add(client, shop, medium, **HTMX)

    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="cart"')
    assert "<html" not in html
    assert '<output aria-label="Quantity of Margherita">2</output>' in html
    assert 'data-testid="cart-total">€21.00<' in html
    # the checkout button's total follows along, out of band
    assert 'id="checkout-submit" class="checkout__submit" hx-swap-oob="true"' in html
    assert "Place order · €21.00" in html
    # the session keeps it for the next page
    assert "€21.00" in client.get(reverse("restaurant-menu", args=[shop.slug])).content.decode()


def test_cart_works_without_javascript(client: Client, shop: Restaurant) -> None:
    response = add(client, shop, item(shop, "Tiramisù", "-"))

    assert response.status_code == 302
    assert response["Location"] == reverse("restaurant-menu", args=[shop.slug]) + "#cart"
    page = client.get(response["Location"]).content.decode()
    assert 'data-testid="cart-total">€5.50<' in page


def test_cart_quantity_update_and_remove(client: Client, shop: Restaurant) -> None:
    large = item(shop, "Margherita", "L")
    add(client, shop, large, **HTMX)
    update = reverse("cart-update", args=[shop.slug])

    five = client.post(update, {"item": large.id, "quantity": 5}, **HTMX).content.decode()
    assert 'data-testid="cart-total">€65.00<' in five

    capped = client.post(update, {"item": large.id, "quantity": 50}, **HTMX).content.decode()
    assert 'data-testid="cart-total">€650.00<' in capped

    removed = client.post(update, {"item": large.id, "quantity": 0}, **HTMX).content.decode()
    assert "Your cart is empty" in removed


@pytest.mark.parametrize("payload", [{"item": "abc"}, {"item": 1, "quantity": -3}, {"item": 1, "quantity": 10**6}, {}])
def test_cart_refuses_malformed_input(client: Client, shop: Restaurant, payload: dict) -> None:
    response = client.post(reverse("cart-add", args=[shop.slug]), payload, **HTMX)

    assert response.status_code == 400
    assert "was not understood" in response.content.decode()


def test_at_the_quantity_cap_plus_is_disabled_and_more_is_refused_clearly(client: Client, shop: Restaurant) -> None:
    large = item(shop, "Margherita", "L")
    update = reverse("cart-update", args=[shop.slug])
    below = client.post(update, {"item": large.id, "quantity": MAX_QUANTITY - 1}, **HTMX).content.decode()
    assert f'name="quantity" value="{MAX_QUANTITY}"' in below  # + still adds one

    at_cap = client.post(update, {"item": large.id, "quantity": MAX_QUANTITY}, **HTMX).content.decode()
    plus = re.search(r'<button type="button" disabled\s+aria-label="No more Margherita: at most 50 per order"', at_cap)
    assert plus is not None
    assert f'value="{MAX_QUANTITY + 1}"' not in at_cap

    for over in (client.post(update, {"item": large.id, "quantity": MAX_QUANTITY + 1}, **HTMX),
                 add(client, shop, large, **HTMX)):
        assert over.status_code == 409
        html = over.content.decode()
        assert f"An order holds at most {MAX_QUANTITY} of one dish." in html
        assert "not understood" not in html
        assert f'<output aria-label="Quantity of Margherita">{MAX_QUANTITY}</output>' in html  # unchanged


def test_cart_refuses_a_dish_from_another_menu_or_sold_out(client: Client, shop: Restaurant) -> None:
    other = factories.restaurant()
    foreign = factories.menu_item(other, name="Foreign", size="M")
    sold_out = factories.menu_item(shop, name="Diavola", size="M", is_available=False)

    refused = add(client, shop, foreign, **HTMX)
    assert refused.status_code == 409
    assert "not on this menu" in refused.content.decode()

    refused = add(client, shop, sold_out, **HTMX)
    assert refused.status_code == 409
    assert "Diavola is sold out" in refused.content.decode()
    assert "Your cart is empty" in refused.content.decode()


def _place(client: Client, shop: Restaurant, form: dict | None = None, **extra: str):
    add(client, shop, item(shop, "Margherita", "M"), **HTMX)
    add(client, shop, item(shop, "Margherita", "M"), **HTMX)
    add(client, shop, item(shop, "Tiramisù", "-"), **HTMX)
    return client.post(reverse("checkout", args=[shop.slug]), {**CUSTOMER, **(form or {})}, **extra)


def test_checkout_creates_the_order_through_the_service(client: Client, shop: Restaurant) -> None:
    response = _place(client, shop, **HTMX)

    assert response.status_code == 200
    order = Order.objects.get()
    tracker = response["HX-Redirect"]
    token = tracker.split("/")[2]
    assert tracker == reverse("tracking:tracker", args=[token])
    assert order_id_from_token(token) == order.id
    assert order.total == Decimal("26.50")
    assert [(i.name, i.size, i.quantity, i.unit_price) for i in order.items.order_by("name")] == [
        ("Margherita", "M", 2, Decimal("10.50")), ("Tiramisù", "-", 1, Decimal("5.50"))]
    assert (order.customer.name, order.customer.phone) == ("Grace Hopper", "+49305550199")  # E.164
    assert order.delivery_address == "Lychener Straße 12, Prenzlauer Berg"
    lat, lng = geocoding.locate(geocoding.DISTRICTS_BY_SLUG["prenzlauer-berg"], "Lychener Straße 12")
    assert (float(order.delivery_lat), float(order.delivery_lng)) == (lat, lng)
    assert order.notes == "Ring twice"
    assert Event.objects.filter(type="order.placed", order_id=order.id).count() == 1
    # the cart is emptied
    assert "Your cart is empty" in client.get(reverse("restaurant-menu", args=[shop.slug])).content.decode()


def test_checkout_without_javascript_redirects_to_the_tracker(client: Client, shop: Restaurant) -> None:
    response = _place(client, shop)

    assert response.status_code == 302
    order = Order.objects.get()
    assert response["Location"].startswith("/track/")
    assert order_id_from_token(response["Location"].split("/")[2]) == order.id


def test_checkout_lands_on_the_tracker_with_code_items_total_and_tracking_link(client: Client, shop: Restaurant) -> None:
    tracker = _place(client, shop, **HTMX)["HX-Redirect"]
    order = Order.objects.get()

    response = client.get(tracker)

    assert response.status_code == 200
    html = response.content.decode()
    assert order.code in html
    assert "Margherita" in html and "Tiramisù" in html
    assert '<strong>€26.50</strong>' in html
    assert f'value="http://testserver{tracker}" readonly data-testid="tracking-link"' in html
    assert "Copy link" in html
    assert "Lychener Straße 12, Prenzlauer Berg" in html


def test_an_old_confirmation_link_goes_to_the_tracker(client: Client, shop: Restaurant) -> None:
    tracker = _place(client, shop, **HTMX)["HX-Redirect"]
    token = tracker.split("/")[2]

    response = client.get(f"/orders/{token}/confirmed/")

    assert response.status_code == 301 and response["Location"] == tracker


@pytest.mark.parametrize("token", ["nope", "x" * 300, "InN0cmluZyI:1t2u3v:abc"])
def test_an_old_confirmation_link_needs_a_valid_token(client: Client, token: str) -> None:
    assert client.get(f"/orders/{token}/confirmed/").status_code == 404


def test_checkout_errors_render_inline(client: Client, shop: Restaurant) -> None:
    add(client, shop, item(shop, "Margherita", "S"), **HTMX)

    response = client.post(reverse("checkout", args=[shop.slug]),
                           {"name": " ", "phone": "call me", "address": "Lychener Straße", "district": "atlantis"},
                           **HTMX)

    assert response.status_code == 422
    html = response.content.decode()
    assert html.lstrip().startswith('<form id="checkout"')
    assert "This field is required." in html  # name
    assert "Enter a phone number" in html
    assert "the street and the house number" in html
    assert "Select a valid choice" in html
    assert 'value="Lychener Straße"' in html  # what was typed stays
    assert not Order.objects.exists()


def test_checkout_with_an_empty_cart_is_refused_inline(client: Client, shop: Restaurant) -> None:
    response = client.post(reverse("checkout", args=[shop.slug]), CUSTOMER, **HTMX)

    assert response.status_code == 422
    assert "Your cart is empty" in response.content.decode()
    assert not Order.objects.exists()


def test_service_refusals_show_as_form_errors(client: Client) -> None:
    munich = factories.restaurant(name="Monaco", lat=Decimal("48.137154"), lng=Decimal("11.576124"))
    pizza = factories.menu_item(munich, name="Bavarese", size="M")
    add(client, munich, pizza, **HTMX)

    response = client.post(reverse("checkout", args=[munich.slug]), CUSTOMER, **HTMX)

    assert response.status_code == 422
    assert "km away; Monaco delivers within 15 km" in response.content.decode()
    assert not Order.objects.exists()


def test_a_pizzeria_closing_before_checkout_refuses_the_order(client: Client, shop: Restaurant) -> None:
    add(client, shop, item(shop, "Margherita", "S"), **HTMX)
    Restaurant.objects.filter(pk=shop.pk).update(is_open=False)

    response = client.post(reverse("checkout", args=[shop.slug]), CUSTOMER)  # no JS: the whole page

    assert response.status_code == 409
    html = response.content.decode()
    assert "Forno Uno is closed right now." in html
    assert "<html" in html
    assert not Order.objects.exists()


def test_closed_pizzeria_shows_the_menu_but_no_checkout(client: Client, shop: Restaurant) -> None:
    Restaurant.objects.filter(pk=shop.pk).update(is_open=False)

    html = client.get(reverse("restaurant-menu", args=[shop.slug])).content.decode()

    assert "€10.50" in html
    assert "Forno Uno is closed right now." in html
    assert '<fieldset disabled>' in html
    assert '<button class="btn btn--block" type="submit" disabled>Closed right now</button>' in html
    refused = add(client, shop, item(shop, "Margherita", "S"), **HTMX)
    assert refused.status_code == 409
    assert "closed right now" in refused.content.decode()


HOSTILE = '<script>alert("x")</script>'


def test_hostile_text_is_escaped_everywhere(client: Client) -> None:
    evil = factories.restaurant(name=f"Evil {HOSTILE}", description='<img src=x onerror="alert(1)">',
                                address="<b>Nowhere</b> 1")
    pizza = factories.menu_item(evil, name=f"Pizza {HOSTILE}", description="<i>hot</i>", size="M")

    for url in ("/", reverse("restaurant-menu", args=[evil.slug])):
        html = client.get(url).content.decode()
        assert HOSTILE not in html and "<img src=x" not in html and "<b>Nowhere" not in html
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html

    cart = add(client, evil, pizza, **HTMX).content.decode()
    assert HOSTILE not in cart and "&lt;script&gt;" in cart
    response = client.post(reverse("checkout", args=[evil.slug]),
                           {**CUSTOMER, "name": f"Mallory {HOSTILE}", "address": f"Lychener Straße 5 {HOSTILE}",
                            "notes": '"><svg onload=alert(2)>'}, **HTMX)
    confirmation = client.get(response["HX-Redirect"]).content.decode()  # the tracker
    assert HOSTILE not in confirmation and "<svg onload" not in confirmation
    # the tracker shows no customer name: the address and the notes are what it echoes
    assert "Lychener Straße 5 &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in confirmation
    assert "&quot;&gt;&lt;svg onload=alert(2)&gt;" in confirmation


def test_forms_enforce_csrf(shop: Restaurant) -> None:
    browser = Client(enforce_csrf_checks=True)
    margherita = item(shop, "Margherita", "M")

    assert add(browser, shop, margherita).status_code == 403
    assert browser.post(reverse("checkout", args=[shop.slug]), CUSTOMER).status_code == 403

    browser.get(reverse("restaurant-menu", args=[shop.slug]))
    token = browser.cookies["csrftoken"].value
    # htmx sends the token from <body hx-headers>; a plain form posts the hidden field
    assert add(browser, shop, margherita, HTTP_X_CSRFTOKEN=token, **HTMX).status_code == 200
    placed = browser.post(reverse("checkout", args=[shop.slug]), {**CUSTOMER, "csrfmiddlewaretoken": token})
    assert placed.status_code == 302
    assert Order.objects.count() == 1


def test_pages_carry_the_csrf_header_for_htmx(client: Client, shop: Restaurant) -> None:
    html = client.get(reverse("restaurant-menu", args=[shop.slug])).content.decode()
    assert "hx-headers='{\"X-CSRFToken\": \"" in html
    assert 'name="csrfmiddlewaretoken"' in html


def test_checkout_is_rate_limited(client: Client, shop: Restaurant, settings) -> None:
    settings.CHECKOUT_RATE_LIMIT = "2/m"
    for _ in range(2):
        assert _place(client, shop, **HTMX).status_code == 200

    response = _place(client, shop, **HTMX)

    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert "Too many orders in a short time" in response.content.decode()
    assert Order.objects.count() == 2


def test_views_accept_only_their_methods(client: Client, shop: Restaurant) -> None:
    assert client.post("/").status_code == 405
    assert client.get(reverse("cart-add", args=[shop.slug])).status_code == 405
    assert client.get(reverse("checkout", args=[shop.slug])).status_code == 405


# --- input the checkout refuses ---------------------------------------------------------------

@pytest.mark.parametrize("phone", ["-----", "(((((", "0" * 31, "+49 151 1"])
def test_checkout_refuses_what_is_no_phone_number(client: Client, shop: Restaurant, phone: str) -> None:
    add(client, shop, item(shop, "Margherita", "S"))
    response = client.post(reverse("checkout", args=[shop.slug]), {**CUSTOMER, "phone": phone}, **HTMX)
    assert response.status_code == 422
    assert "Enter a phone number" in response.content.decode()
    assert not Order.objects.exists()


@pytest.mark.parametrize("name", ["\u200b\u200b\u200b\u200b", "\u200b \u200c \u200d \ufeff"])
def test_checkout_refuses_a_name_of_invisible_characters(client: Client, shop: Restaurant, name: str) -> None:
    add(client, shop, item(shop, "Margherita", "S"))
    response = client.post(reverse("checkout", args=[shop.slug]), {**CUSTOMER, "name": name}, **HTMX)
    assert response.status_code == 422
    assert "Tell us who the pizza is for." in response.content.decode()
    assert not Order.objects.exists()


def test_checkout_stores_full_width_digits_as_a_plain_number(client: Client, shop: Restaurant) -> None:
    add(client, shop, item(shop, "Margherita", "S"))
    response = client.post(reverse("checkout", args=[shop.slug]), {**CUSTOMER, "phone": "０３０ ５５５ ０１９９"})
    assert response.status_code == 302, response.content
    assert Order.objects.get().customer.phone == "+49305550199"


def test_checkout_is_capped_as_a_whole(client: Client, shop: Restaurant, settings) -> None:
    settings.ORDER_MAX_ITEMS = 3
    for _ in range(4):
        add(client, shop, item(shop, "Tiramisù", "-"))
    response = client.post(reverse("checkout", args=[shop.slug]), CUSTOMER, **HTMX)
    assert response.status_code == 422
    assert "At most 3 items per order" in response.content.decode()
    assert not Order.objects.exists()


def test_confirmation_and_checkout_are_never_cached(client: Client, shop: Restaurant) -> None:
    add(client, shop, item(shop, "Margherita", "S"))
    response = client.post(reverse("checkout", args=[shop.slug]), CUSTOMER)
    confirmation = client.get(response["Location"])  # the tracker
    assert confirmation.status_code == 200
    for page in (response, confirmation):
        assert {"private", "no-store"} <= {part.strip() for part in page["Cache-Control"].split(",")}


def test_checkout_takes_an_email_and_the_language(client: Client, shop: Restaurant) -> None:
    response = _place(client, shop, {"email": "grace@example.com"}, HTTP_ACCEPT_LANGUAGE="de")
    assert response.status_code == 302
    order = Order.objects.select_related("customer").get()
    assert order.customer.email == "grace@example.com" and order.language == "de"


def test_checkout_refuses_an_invalid_email_inline(client: Client, shop: Restaurant) -> None:
    response = _place(client, shop, {"email": "grace@"}, **HTMX)
    assert response.status_code == 422 and "Enter a valid email address." in response.content.decode()
    assert not Order.objects.exists()


def test_checkout_refuses_a_street_the_gazetteer_does_not_know(client: Client, shop: Restaurant) -> None:
    response = _place(client, shop, {"address": "Erfundene Straße 9"}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 422 and "We could not find “Erfundene Straße 9” in Prenzlauer Berg" in html
    assert not Order.objects.exists()


def test_checkout_takes_the_point_the_customer_chose(client: Client, shop: Restaurant) -> None:
    chosen = {"address": "Hinterhof am Späti 3", "lat": "52.53811", "lng": "13.42012"}  # no street the gazetteer knows
    assert _place(client, shop, chosen).status_code == 302
    order = Order.objects.get()
    assert (float(order.delivery_lat), float(order.delivery_lng)) == (52.53811, 13.42012)
    assert order.delivery_address == "Hinterhof am Späti 3, Prenzlauer Berg"


@pytest.mark.parametrize("point, message", [
    ({"lat": "48.137", "lng": "11.575"}, "outside the area we deliver to"),
    ({"lat": "52.53"}, "The point on the map was incomplete"),
    ({"lat": "91", "lng": "13.4"}, "The point on the map is not valid"),
    ({"lat": "nan", "lng": "13.4"}, "The point on the map is not valid"),
    ({"lat": "52.53", "lng": "<script>"}, "The point on the map is not valid"),
])
def test_checkout_refuses_a_point_outside_the_service_area(client: Client, shop: Restaurant, point, message) -> None:
    response = _place(client, shop, point, **HTMX)
    assert response.status_code == 422 and message in response.content.decode()
    assert not Order.objects.exists()


def test_checkout_geocodes_with_nominatim_when_configured(client: Client, shop: Restaurant, nominatim) -> None:
    nominatim.results = [hit(52.54012, 13.41234, "Lychener Straße 12, Berlin")]
    assert _place(client, shop).status_code == 302
    order = Order.objects.get()
    assert (float(order.delivery_lat), float(order.delivery_lng)) == (52.54012, 13.41234)
    assert nominatim.queries[-1]["q"] == "Lychener Straße 12, Prenzlauer Berg, Berlin"


def test_checkout_says_so_when_nominatim_does_not_answer(client: Client, shop: Restaurant, nominatim) -> None:
    nominatim.status = 500
    response = _place(client, shop, **HTMX)
    assert response.status_code == 422 and "Looking up addresses does not work right now" in response.content.decode()
    nominatim.status, nominatim.results = 200, []
    response = client.post(reverse("checkout", args=[shop.slug]), CUSTOMER, **HTMX)
    assert response.status_code == 422 and "We could not find" in response.content.decode()
    assert not Order.objects.exists()
