"""The customer's extras on the tracker, in a real Chromium against a real server: cancelling
while placed (a keyboard-usable confirmation), browser notifications, the Leaflet map."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from pizzadelivery import services
from pizzadelivery.models import Order
from tests import factories
from tests.conftest import in_thread
from tests.tracking.helpers import token

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _open(page, live, order) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{live.url}/track/{token(order)}/")
    expect(page.locator("#trk-conn")).to_have_attribute("data-state", "connected")
    return errors


def test_the_customer_cancels_from_the_tracker_with_the_keyboard(live, page, mirror) -> None:
    order = in_thread(factories.order_at, "placed")
    errors = _open(page, live, order)
    opener = page.get_by_role("link", name="Cancel order")
    dialog = page.locator("#trk-cancel-dialog")
    opener.focus()
    page.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    expect(page.get_by_role("button", name="Keep my order")).to_be_focused()  # the safe choice first
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(opener).to_be_focused()
    assert Order.objects.get(pk=order.id).status == "placed"

    page.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    page.keyboard.press("Shift+Tab")
    expect(page.get_by_role("button", name="Yes, cancel my order")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#trk-hero")).to_contain_text("This order was cancelled")
    expect(page.locator("#trk-hero")).to_contain_text("You cancelled this order")
    expect(page.get_by_role("link", name="Cancel order")).to_have_count(0)
    assert Order.objects.get(pk=order.id).status == "cancelled" and errors == []


def test_cancel_is_refused_once_the_kitchen_confirmed(live, page, mirror) -> None:
    order = in_thread(factories.order_at, "placed")
    _open(page, live, order)
    page.get_by_role("link", name="Cancel order").click()
    expect(page.locator("#trk-cancel-dialog")).to_be_visible()
    # The kitchen confirms while the customer hesitates: the live push takes the link away...
    in_thread(services.order_transition, order_id=order.id, to="confirmed")
    expect(page.get_by_role("link", name="Cancel order")).to_have_count(0)
    # ... and the dialog still open is refused, saying why.
    page.get_by_role("button", name="Yes, cancel my order").click()
    expect(page.get_by_role("heading", name="This order can no longer be cancelled here")).to_be_visible()
    assert Order.objects.get(pk=order.id).status == "confirmed"
