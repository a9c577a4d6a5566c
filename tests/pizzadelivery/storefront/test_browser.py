"""Checkout in a real browser: storefront -> menu -> cart -> checkout -> confirmation."""
from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from pizzadelivery.models import Order, Restaurant
from pizzadelivery.tokens import order_id_from_token
from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def pizzeria() -> Restaurant:
    restaurant = factories.restaurant(name="Forno Browser", slug="forno-browser",
                                      description="Wood-fired, tested daily.")
    for size, price in (("S", "8.00"), ("M", "10.50"), ("L", "13.00")):
        factories.menu_item(restaurant, name="Margherita", size=size, price=Decimal(price))
    factories.menu_item(restaurant, name="Tiramisù", size="-", price=Decimal("5.50"))
    return restaurant


def add_to_cart(page: Page, label: str) -> None:
    page.get_by_role("button", name=label).click()


def test_order_from_storefront_to_confirmation(live, page: Page, pizzeria: Restaurant) -> None:
    page.goto(f"{live.url}/")
    expect(page.get_by_role("heading", name="Pizzerias")).to_be_visible()

    page.get_by_role("link", name="Forno Browser").click()  # htmx swap, URL pushed
    expect(page).to_have_url(f"{live.url}/restaurants/forno-browser/")
    expect(page.get_by_role("heading", name="Forno Browser", level=1)).to_be_visible()

    total = page.get_by_test_id("cart-total")
    add_to_cart(page, "Add Margherita Medium (30 cm) for €10.50")
    expect(total).to_have_text("€10.50")
    add_to_cart(page, "Add Margherita Medium (30 cm) for €10.50")
    expect(total).to_have_text("€21.00")
    add_to_cart(page, "Add Margherita Large (34 cm) for €13.00")
    for _ in range(3):  # quick taps, not waiting for answers: none may be lost
        add_to_cart(page, "Add Tiramisù for €5.50")
    expect(total).to_have_text("€50.50")
    page.get_by_role("button", name="One less Tiramisù").click()
    expect(total).to_have_text("€45.00")
    expect(page.get_by_role("button", name="Place order · €45.00")).to_be_enabled()

    # a mistake first: errors appear inline, nothing typed is lost, no page load
    page.get_by_label("Your name").fill("Grace Hopper")
    page.get_by_label("Street and house number").fill("Lychener Straße")
    page.get_by_role("button", name="Place order · €45.00").click()
    expect(page.get_by_text("Enter the street and the house number")).to_be_visible()
    expect(page.get_by_text("This field is required.").first).to_be_visible()
    expect(page.get_by_label("Your name")).to_have_value("Grace Hopper")
    expect(page).to_have_url(f"{live.url}/restaurants/forno-browser/")  # swapped in place by htmx
    assert not Order.objects.exists()

    page.get_by_label("Phone").fill("+49 30 555 0199")
    page.get_by_label("Street and house number").fill("Lychener Straße 12")
    page.get_by_label("District").select_option(label="Prenzlauer Berg")
    page.get_by_label("Notes for the driver").fill("Ring twice")
    page.get_by_role("button", name="Place order · €45.00").click()

    page.wait_for_url(re.compile(r"/orders/[^/]+/confirmed/$"))
    order = Order.objects.get()
    expect(page.get_by_test_id("order-code")).to_have_text(order.code)
    expect(page.get_by_test_id("order-total")).to_have_text("€45.00")
    expect(page.get_by_role("cell", name="Margherita L · 34 cm")).to_be_visible()
    link = page.locator("#tracking-link")
    href = link.get_attribute("href")
    assert href is not None and href.startswith("/track/")
    assert order_id_from_token(href.split("/")[2]) == order.id
    assert page.locator("#tracking-url").input_value() == f"{live.url}{href}"
    assert (order.total, order.delivery_address) == (Decimal("45.00"), "Lychener Straße 12, Prenzlauer Berg")
    assert sorted((i.name, i.size, i.quantity) for i in order.items.all()) == [
        ("Margherita", "L", 1), ("Margherita", "M", 2), ("Tiramisù", "-", 2)]

    page.goto(f"{live.url}/restaurants/forno-browser/")
    expect(page.get_by_text("Your cart is empty.")).to_be_visible()


def test_checkout_works_without_javascript(live, browser, pizzeria: Restaurant) -> None:
    context = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        page.goto(f"{live.url}/")
        page.get_by_role("link", name="Forno Browser").click()
        add_to_cart(page, "Add Margherita Small (26 cm) for €8.00")
        expect(page.get_by_test_id("cart-total")).to_have_text("€8.00")
        page.get_by_label("Your name").fill("Ada Lovelace")
        page.get_by_label("Phone").fill("+49 30 1234567")
        page.get_by_label("Street and house number").fill("Torstraße 1")
        page.get_by_label("District").select_option("mitte")
        page.get_by_role("button", name="Place order · €8.00").click()
        page.wait_for_url(re.compile(r"/orders/[^/]+/confirmed/$"))
        expect(page.get_by_test_id("order-code")).to_have_text(Order.objects.get().code)
    finally:
        context.close()


def test_closed_pizzeria_cannot_take_orders(live, page: Page, pizzeria: Restaurant) -> None:
    Restaurant.objects.filter(pk=pizzeria.pk).update(is_open=False)

    page.goto(f"{live.url}/restaurants/forno-browser/")

    expect(page.get_by_text("Forno Browser is closed right now.")).to_be_visible()
    expect(page.get_by_role("button", name="Add Margherita Medium (30 cm) for €10.50")).to_be_disabled()
    expect(page.get_by_role("button", name="Closed right now")).to_be_disabled()
