"""Checkout in a real browser: storefront -> menu -> cart -> checkout -> the order's tracker; the
cart's quantity cap, focus after a refused checkout, htmx's console, the language switcher."""
from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from pizzadelivery.models import Order, Restaurant
from pizzadelivery.services import MAX_QUANTITY
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


def test_order_from_storefront_to_the_tracker(live, page: Page, pizzeria: Restaurant) -> None:
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

    page.wait_for_url(re.compile(r"/track/[^/]+/$"))
    order = Order.objects.get()
    expect(page.get_by_text(f"Order {order.code} · from Forno Browser")).to_be_visible()
    expect(page.locator(".trk-total strong")).to_have_text("€45.00")
    href = page.url.removeprefix(live.url)
    assert order_id_from_token(href.split("/")[2]) == order.id
    expect(page.get_by_test_id("tracking-link")).to_have_value(f"{live.url}{href}")
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
        page.wait_for_url(re.compile(r"/track/[^/]+/$"))
        expect(page.get_by_text(f"Order {Order.objects.get().code} · from Forno Browser")).to_be_visible()
    finally:
        context.close()


def test_closed_pizzeria_cannot_take_orders(live, page: Page, pizzeria: Restaurant) -> None:
    Restaurant.objects.filter(pk=pizzeria.pk).update(is_open=False)

    page.goto(f"{live.url}/restaurants/forno-browser/")

    expect(page.get_by_text("Forno Browser is closed right now.")).to_be_visible()
    expect(page.get_by_role("button", name="Add Margherita Medium (30 cm) for €10.50")).to_be_disabled()
    expect(page.get_by_role("button", name="Closed right now")).to_be_disabled()


def test_at_the_quantity_cap_plus_is_disabled(live, page: Page, pizzeria: Restaurant) -> None:
    page.goto(f"{live.url}/restaurants/forno-browser/")
    add_to_cart(page, "Add Tiramisù for €5.50")
    expect(page.get_by_role("button", name="One more Tiramisù")).to_be_enabled()
    # one below the cap, set through the cart's own endpoint in this browser's session
    tiramisu = pizzeria.menu_items.get(name="Tiramisù")
    csrf = page.locator("[name=csrfmiddlewaretoken]").first.input_value()
    page.request.post(f"{live.url}{reverse('cart-update', args=[pizzeria.slug])}", headers={"X-CSRFToken": csrf},
                      form={"item": str(tiramisu.id), "quantity": str(MAX_QUANTITY - 1)})
    page.reload()
    expect(page.get_by_label("Quantity of Tiramisù")).to_have_text(str(MAX_QUANTITY - 1))
    page.get_by_role("button", name="One more Tiramisù").click()
    expect(page.get_by_label("Quantity of Tiramisù")).to_have_text(str(MAX_QUANTITY))
    capped = page.get_by_role("button", name=f"No more Tiramisù: at most {MAX_QUANTITY} per order")
    expect(capped).to_be_disabled()
    expect(page.get_by_role("button", name="One more Tiramisù")).to_have_count(0)
    # the menu's own button asks for one more: a clear refusal, the cart unchanged
    add_to_cart(page, "Add Tiramisù for €5.50")
    expect(page.get_by_role("alert")).to_have_text(f"An order holds at most {MAX_QUANTITY} of one dish.")
    expect(page.get_by_label("Quantity of Tiramisù")).to_have_text(str(MAX_QUANTITY))


def test_a_refused_checkout_moves_focus_to_the_problem(live, page: Page, pizzeria: Restaurant) -> None:
    page.goto(f"{live.url}/restaurants/forno-browser/")
    add_to_cart(page, "Add Margherita Small (26 cm) for €8.00")
    expect(page.get_by_test_id("cart-total")).to_have_text("€8.00")

    page.get_by_label("Your name").fill("Grace Hopper")
    page.get_by_role("button", name="Place order · €8.00").click()  # no phone, no address
    expect(page.get_by_label("Phone")).to_be_focused()  # the first field in error, not the body

    page.get_by_label("Phone").fill("+49 30 555 0199")
    page.get_by_label("Street and house number").fill("Lychener Straße 12")
    page.get_by_label("District").select_option(label="Prenzlauer Berg")
    Restaurant.objects.filter(pk=pizzeria.pk).update(lat=Decimal("48.137154"), lng=Decimal("11.576124"))
    page.get_by_role("button", name="Place order · €8.00").click()  # too far: a form-wide error
    summary = page.locator("#checkout-errors")
    expect(summary).to_contain_text("delivers within")
    expect(summary).to_be_focused()
    assert not Order.objects.exists()


def test_storefront_to_menu_navigation_logs_no_htmx_errors(live, page: Page, pizzeria: Restaurant) -> None:
    messages: list[str] = []
    page.on("console", lambda message: messages.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: messages.append(f"pageerror: {error}"))

    page.goto(f"{live.url}/")
    page.evaluate("htmx.logAll()")  # every htmx event in the console, oobErrorNoTarget among them
    page.get_by_role("link", name="Forno Browser").click()
    expect(page.get_by_role("heading", name="Forno Browser", level=1)).to_be_visible()
    add_to_cart(page, "Add Tiramisù for €5.50")  # a cart change does swap its out-of-band button
    expect(page.get_by_role("button", name="Place order · €5.50")).to_be_enabled()
    page.get_by_role("link", name="All pizzerias").click()
    expect(page.get_by_role("heading", name="Pizzerias")).to_be_visible()
    page.get_by_role("link", name="Forno Browser").click()
    expect(page.get_by_role("heading", name="Forno Browser", level=1)).to_be_visible()

    assert any("htmx:afterSwap" in message for message in messages)  # the log was on
    assert not [message for message in messages if "oobErrorNoTarget" in message]
    assert not [message for message in messages if message.startswith(("error", "pageerror"))]


def test_language_switcher_keeps_the_page_and_german_follows_accept_language(live, browser, pizzeria: Restaurant) -> None:
    context = browser.new_context(locale="de-DE", viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        page.goto(f"{live.url}/restaurants/forno-browser/")
        assert page.locator("html").get_attribute("lang") == "de"
        expect(page.get_by_role("heading", name="Ihre Bestellung")).to_be_visible()
        add_to_cart(page, "Margherita Mittel (30 cm) für €10.50 hinzufügen")
        expect(page.get_by_role("button", name="Bestellen · €10.50")).to_be_enabled()

        page.get_by_role("button", name="EN", exact=True).click()
        page.wait_for_load_state()
        expect(page).to_have_url(f"{live.url}/restaurants/forno-browser/")
        assert page.locator("html").get_attribute("lang") == "en"
        expect(page.get_by_role("button", name="Place order · €10.50")).to_be_enabled()  # the cart stays

        page.get_by_role("link", name="All pizzerias").click()  # htmx navigation pushes the URL
        expect(page).to_have_url(f"{live.url}/")
        page.get_by_role("button", name="DE", exact=True).click()
        expect(page.get_by_role("heading", name="Pizzerien")).to_be_visible()
        expect(page).to_have_url(f"{live.url}/")
    finally:
        context.close()
