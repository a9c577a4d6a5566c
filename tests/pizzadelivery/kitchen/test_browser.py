"""The kitchen screen on a tablet, in a real Chromium: a storefront order arrives by itself and
the cook moves it to ready with big buttons; a dish sold out here is sold out on the storefront."""
from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from pizzadelivery.models import MenuItem, Order
from tests import factories
from tests.conftest import login_page

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_storefront_order_arrives_on_the_tablet_and_goes_to_ready(live, browser, mirror) -> None:
    shop = factories.restaurant(name="Forno Tablet", slug="forno-tablet")
    factories.menu_item(shop, name="Margherita", size="M", price=Decimal("10.50"))
    factories.menu_item(shop, name="Tiramisù", size="-", price=Decimal("5.50"))
    tablet = browser.new_context(viewport={"width": 1024, "height": 768})
    customer = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        screen = tablet.new_page()
        errors: list[str] = []
        screen.on("pageerror", lambda error: errors.append(str(error)))
        login_page(screen, live, factories.kitchen_user(shop))
        screen.goto(f"{live.url}/kitchen/")
        expect(screen.locator("#kt-conn")).to_have_attribute("data-state", "live")
        screen.evaluate("window.sameDocument = true")
        expect(screen.locator(".kt-col-placed .kt-empty")).to_be_visible()

        shop_page = customer.new_page()
        shop_page.goto(f"{live.url}/restaurants/forno-tablet/")
        shop_page.get_by_role("button", name="Add Margherita Medium (30 cm) for €10.50").click()
        expect(shop_page.get_by_test_id("cart-total")).to_have_text("€10.50")
        shop_page.get_by_label("Your name").fill("Grace Hopper")
        shop_page.get_by_label("Phone").fill("+49 30 555 0199")
        shop_page.get_by_label("Street and house number").fill("Torstraße 12")
        shop_page.get_by_label("District").select_option("mitte")
        shop_page.get_by_label("Notes for the driver").fill("Ring twice")
        shop_page.get_by_role("button", name="Place order · €10.50").click()
        shop_page.wait_for_url(re.compile(r"/track/[^/]+/$"))  # checkout lands on the tracker
        order = Order.objects.get()

        card = screen.locator(f"#kt-order-{order.id}")
        expect(card).to_be_visible()  # arrived by itself
        expect(card).to_have_class(re.compile(r"\bis-new\b"))  # and flashes
        expect(card).to_contain_text("1× Margherita")
        expect(card).to_contain_text("Ring twice")
        expect(screen.locator(".kt-col-placed .kt-count")).to_have_text("1")
        for button, column in (("Confirm", "confirmed"), ("Into the oven", "preparing"), ("Ready", "ready")):
            card.get_by_role("button", name=button).click()
            expect(screen.locator(f".kt-col-{column} #kt-order-{order.id}")).to_be_visible()
        expect(card).to_contain_text("Waiting for pickup")
        assert Order.objects.get(pk=order.id).kitchen_status == "ready"

        # Sold out from the tablet, with the keyboard: the storefront refuses it at once.
        screen.locator(f"#kt-menu-{shop.id} summary").click()
        tiramisu = screen.get_by_role("button", name=re.compile("Tiramisù"))
        tiramisu.focus()
        screen.keyboard.press("Enter")
        expect(screen.get_by_role("button", name=re.compile("Tiramisù"))).to_contain_text("Sold out")
        expect(screen.locator(f"#kt-menu-{shop.id}")).to_have_attribute("open", "")  # stays open across the swap
        assert not MenuItem.objects.get(name="Tiramisù").is_available
        shop_page.goto(f"{live.url}/restaurants/forno-tablet/")
        expect(shop_page.get_by_role("button", name="Add Tiramisù for €5.50")).to_have_count(0)
        expect(shop_page.get_by_role("button", name="Tiramisù: sold out")).to_be_disabled()
        assert screen.evaluate("window.sameDocument") is True and errors == []
    finally:
        tablet.close()
        customer.close()


def test_cancel_asks_for_a_reason_in_a_dialog(live, browser, mirror) -> None:
    shop = factories.restaurant(name="Forno Cancel")
    order = factories.order_at("preparing", restaurant_obj=shop)
    tablet = browser.new_context(viewport={"width": 1024, "height": 768})
    try:
        screen = tablet.new_page()
        login_page(screen, live, factories.kitchen_user(shop))
        screen.goto(f"{live.url}/kitchen/")
        screen.locator(f"#kt-order-{order.id}").get_by_role("link", name="Cancel…").click()
        dialog = screen.get_by_role("dialog")
        expect(dialog).to_contain_text(f"Cancel {order.code}?")
        dialog.get_by_role("button", name="Keep the order").click()
        expect(dialog).to_be_hidden()
        assert Order.objects.get(pk=order.id).status == "preparing"
        screen.locator(f"#kt-order-{order.id}").get_by_role("link", name="Cancel…").click()
        dialog.get_by_label("Out of stock").check()
        dialog.get_by_label(re.compile("Note for the dispatcher")).fill("Mozzarella delivery missed")
        dialog.get_by_role("button", name="Cancel the order").click()
        expect(screen.locator(f"#kt-order-{order.id}")).to_have_count(0)
        cancelled = Order.objects.get(pk=order.id)
        assert (cancelled.status, cancelled.cancel_code, cancelled.cancel_reason) == (
            "cancelled", "out_of_stock", "Mozzarella delivery missed")
    finally:
        tablet.close()
