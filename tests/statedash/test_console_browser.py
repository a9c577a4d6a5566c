"""The dispatcher's console in Chromium, two dashboards open: dispatch with the keyboard to the
preselected nearest driver, reassign from the other dashboard (each sees the other's move
without a reload), cancel with a reason (the customer's tracker shows the customer's words),
and an alert that appears and clears."""
from __future__ import annotations

import json
import re
import urllib.request
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect
from rest_framework.authtoken.models import Token

from pizzadelivery.models import Driver, Order
from pizzadelivery.tokens import tracking_token_for
from tests import factories
from tests.conftest import in_thread, login_page

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
SEEN = 8_000  # ms: a push, or at worst the 5-s poll


def _open(browser, live, user) -> Page:
    page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    login_page(page, live, user)
    page.goto(f"{live.url}/dashboard/")
    expect(page.locator("#dash-conn")).to_have_attribute("data-state", "live")
    page.evaluate("window.sameDocument = true")
    return page


def _placed_minutes_ago(monkeypatch, minutes: int, **kwargs) -> Order:
    earlier = timezone.now() - timedelta(minutes=minutes)
    with monkeypatch.context() as patch:
        patch.setattr(timezone, "now", lambda: earlier)
        return factories.order_at("placed", **kwargs)


def test_two_dashboards_dispatch_reassign_cancel_and_an_alert(live, browser, mirror, monkeypatch) -> None:
    shop = factories.restaurant(name="Forno Console")
    lat, lng = float(shop.lat), float(shop.lng)
    near = factories.driver(name="Nora Near", lat=lat + 0.002, lng=lng)
    other = factories.driver(name="Otto Other", lat=lat + 0.02, lng=lng)
    ready = factories.order_at("ready", restaurant_obj=shop)
    cooking = factories.order_at("preparing", restaurant_obj=shop)
    late_one = _placed_minutes_ago(monkeypatch, 12, restaurant_obj=shop)  # the pizzeria has not confirmed it
    kitchen_token = Token.objects.create(user=factories.kitchen_user(shop)).key
    first = _open(browser, live, factories.dispatcher_user("desk-1"))
    second = _open(browser, live, factories.dispatcher_user("desk-2"))
    customer = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    customer.goto(f"{live.url}/track/{tracking_token_for(cooking.id)}/")

    # An alert: the pizzeria has not confirmed in 12 minutes. It links to the order's panel.
    alert = first.locator(f'[data-alert="unconfirmed"][data-order-id="{late_one.id}"]')
    expect(alert).to_contain_text("Not confirmed")

    # Dispatch with the keyboard: j/k to the ready order, Enter opens its panel, d dispatches to
    # the nearest driver (preselected).
    for _ in range(20):
        first.keyboard.press("j")
        if first.evaluate("document.activeElement.dataset.orderId") == str(ready.id):
            break
    else:
        raise AssertionError("j never reached the ready order")
    first.keyboard.press("Enter")
    panel = first.locator("#order-panel")
    expect(panel).to_contain_text(f"Order {ready.code}")
    expect(first).to_have_url(re.compile(rf"/dashboard/orders/{ready.id}/$"))  # deep-linkable
    expect(panel.get_by_role("radio", name=re.compile("Nora Near"))).to_be_checked()
    first.keyboard.press("d")
    expect(panel).to_contain_text("Dispatched to Nora Near.")
    assert Order.objects.get(pk=ready.id).driver_id == near.id
    expect(second.locator("#dash-deliveries")).to_contain_text(ready.code, timeout=SEEN)  # no reload

    # Reassign from the second dashboard; the first one's open panel follows.
    second.locator(f'#dash-deliveries .order-link[data-order-id="{ready.id}"]').click()
    second.locator("#order-panel").get_by_role("radio", name=re.compile("Otto Other")).check()
    second.locator("#order-panel").get_by_role("button", name=re.compile("Reassign")).click()
    expect(second.locator("#order-panel")).to_contain_text("Reassigned to Otto Other.")
    expect(panel).to_contain_text("Otto Other · ", timeout=SEEN)
    assert Order.objects.get(pk=ready.id).driver_id == other.id
    assert Driver.objects.get(pk=near.id).status == "available"

    # Cancel with a reason, confirmed: the customer reads the customer's words, never the note.
    first.keyboard.press("Escape")
    expect(panel).to_be_empty()
    first.locator(f'.order-link[data-order-id="{cooking.id}"]').first.click()
    panel.get_by_label("Out of stock").check()
    panel.get_by_label(re.compile("Note")).fill("Mozzarella delivery missed")
    first.once("dialog", lambda dialog: dialog.accept())
    panel.get_by_role("button", name="Cancel order…").click()
    expect(panel).to_contain_text("Cancelled; the customer was told.")
    expect(customer.locator("#trk-hero")).to_contain_text("The pizzeria ran out of something your order needs",
                                                         timeout=SEEN)
    expect(customer.locator("body")).not_to_contain_text("Mozzarella")

    # The alert clears once handled: the kitchen confirms.
    body = json.dumps({"to": "confirmed"}).encode()
    request = urllib.request.Request(f"{live.url}/api/orders/{late_one.id}/transition", data=body, method="POST",
                                     headers={"Authorization": f"Token {kitchen_token}",
                                              "Content-Type": "application/json"})
    in_thread(lambda: urllib.request.urlopen(request, timeout=10).close())
    expect(alert).to_have_count(0, timeout=SEEN)
    assert first.evaluate("window.sameDocument") and second.evaluate("window.sameDocument")
