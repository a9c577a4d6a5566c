"""Checkout's "Use my location" in Chromium: the browser's position (Geolocation API, granted)
becomes the delivery point, shown in words without tiles, on a Leaflet map with a draggable pin
with tiles; the server takes the point it is sent."""
from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from pizzadelivery.models import Order
from tests import factories
from tests.conftest import csp_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HERE = {"latitude": 52.53012, "longitude": 13.40311}  # Mitte, inside the service area


@pytest.fixture
def located(browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, geolocation=HERE,
                                  permissions=["geolocation"])
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture
def pizzeria():
    restaurant = factories.restaurant(name="Forno Locale", slug="forno-locale")
    factories.menu_item(restaurant, name="Margherita", size="M", price=Decimal("10.50"))
    return restaurant


def _fill_and_locate(page, base_url: str) -> None:
    page.goto(f"{base_url}/restaurants/forno-locale/")
    page.get_by_role("button", name="Add Margherita Medium (30 cm) for €10.50").click()
    expect(page.get_by_test_id("cart-total")).to_have_text("€10.50")
    page.get_by_label("Your name").fill("Grace Hopper")
    page.get_by_label("Phone").fill("+49 30 555 0199")
    page.get_by_label("Street and house number").fill("Hinterhof am Späti 3")  # no street the gazetteer knows
    page.get_by_label("District").select_option("mitte")
    page.get_by_role("button", name="Use my location").click()


def test_use_my_location_without_tiles_shows_the_point_and_orders_there(live, located, pizzeria) -> None:
    _fill_and_locate(located, live.url)
    expect(located.get_by_role("status").filter(has_text="Delivering to the point you chose")).to_contain_text(
        "52.53012, 13.40311")
    expect(located.locator("[data-locate-map]")).to_be_hidden()
    located.get_by_role("button", name="Place order · €10.50").click()
    expect(located.get_by_test_id("tracking-link")).to_be_visible()
    order = Order.objects.get()
    assert (float(order.delivery_lat), float(order.delivery_lng)) == (52.53012, 13.40311)
    assert order.delivery_address == "Hinterhof am Späti 3, Mitte"


def test_use_my_location_with_tiles_drags_the_pin(live, tiled, tiles, located, pizzeria) -> None:
    violations = csp_violations(located)
    _fill_and_locate(located, tiled.url)
    pin = located.locator("[data-locate-map] .pd-pin--home")
    expect(pin).to_be_visible()
    expect(located.locator("[data-locate-map] img.leaflet-tile-loaded").first).to_be_visible()
    box = pin.bounding_box()
    located.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    located.mouse.down()
    located.mouse.move(box["x"] + box["width"] / 2 + 40, box["y"] + box["height"] / 2 - 30, steps=8)
    located.mouse.up()
    lat = float(located.locator("input[name=lat]").input_value())
    lng = float(located.locator("input[name=lng]").input_value())
    assert lat > HERE["latitude"] and lng > HERE["longitude"]  # dragged north-east
    located.get_by_role("button", name="Place order · €10.50").click()
    expect(located.get_by_test_id("tracking-link")).to_be_visible()
    order = Order.objects.get()
    assert (round(float(order.delivery_lat), 5), round(float(order.delivery_lng), 5)) == (lat, lng)
    assert violations == []
