"""The driver's app on a phone, in a real Chromium with geolocation: on shift, a dispatch arrives
by itself, the phone's positions move the customer's tracker, pick-up, and delivery with the PIN
read from the customer's own page (a wrong one refused)."""
from __future__ import annotations

import json
import urllib.request

import pytest
from playwright.sync_api import expect
from rest_framework.authtoken.models import Token

from pizzadelivery.models import Driver, Order
from pizzadelivery.tokens import tracking_token_for
from tests import factories
from tests.conftest import login_page

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
START = {"latitude": 52.5235, "longitude": 13.4010}
NEARER = {"latitude": 52.5212, "longitude": 13.4052}


def _api(live, token: str, path: str, body: dict) -> None:
    request = urllib.request.Request(f"{live.url}{path}", data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"Token {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def test_a_shift_a_job_a_tracked_ride_and_the_pin(live, browser, mirror) -> None:
    shop = factories.restaurant(name="Forno Phone")
    driver = factories.driver(name="Jonas Becker", status="offline", lat=52.50, lng=13.30)
    order = factories.order_at("preparing", restaurant_obj=shop, customer_name="Ada Lovelace")
    dispatcher_token = Token.objects.create(user=factories.dispatcher_user("dispatch-desk")).key
    kitchen_token = Token.objects.create(user=factories.kitchen_user(shop)).key
    phone = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True,
                                geolocation=START, permissions=["geolocation"])
    home = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        app = phone.new_page()
        errors: list[str] = []
        app.on("pageerror", lambda error: errors.append(str(error)))
        login_page(app, live, factories.driver_user(driver))
        app.goto(f"{live.url}/driver/")
        expect(app.locator("#dr-conn")).to_have_attribute("data-state", "live")
        app.evaluate("window.sameDocument = true")
        app.get_by_role("button", name="Start shift").tap()
        expect(app.locator(".dr-status")).to_contain_text("On shift")
        expect(app.locator("#dr-location")).to_have_attribute("data-state", "sharing")
        located = Driver.objects.get(pk=driver.id)
        assert (round(float(located.lat), 4), round(float(located.lng), 4)) == (52.5235, 13.401)

        tracker = home.new_page()
        tracker.goto(f"{live.url}/track/{tracking_token_for(order.id)}/")
        expect(tracker.locator("#trk-conn")).to_have_attribute("data-state", "connected")

        _api(live, dispatcher_token, f"/api/orders/{order.id}/transition", {"to": "dispatched", "driver_id": driver.id})
        expect(app.get_by_role("heading", name="Pick up at Forno Phone")).to_be_visible()  # by itself
        expect(app.get_by_role("button", name="Picked up")).to_be_disabled()  # still in the oven
        pin_before = tracker.get_attribute("#trk-driver-pin", "transform")

        phone.set_geolocation(NEARER)  # the phone moves: the customer sees it within seconds
        assert pin_before
        expect(tracker.locator("#trk-driver-pin")).not_to_have_attribute("transform", pin_before, timeout=15_000)
        moved = Driver.objects.get(pk=driver.id)
        assert (round(float(moved.lat), 4), round(float(moved.lng), 4)) == (52.5212, 13.4052)

        _api(live, kitchen_token, f"/api/orders/{order.id}/transition", {"to": "ready"})
        expect(app.get_by_text("The pizza is ready at the counter.")).to_be_visible()
        app.get_by_role("button", name="Picked up").tap()
        expect(app.get_by_role("heading", name="Deliver to Ada")).to_be_visible()
        pin = tracker.locator(".trk-pin-code").inner_text()  # "Tell your driver this PIN"
        assert pin == Order.objects.get(pk=order.id).delivery_pin

        app.get_by_label("Ask the customer for their PIN").fill(f"{(int(pin) + 1) % 10_000:04d}")
        app.get_by_role("button", name="Delivered").tap()
        expect(app.locator("#dr-flash")).to_contain_text("4 tries left")
        assert Order.objects.get(pk=order.id).status == "out_for_delivery"
        app.get_by_label("Ask the customer for their PIN").fill(pin)
        app.get_by_role("button", name="Delivered").tap()
        expect(app.get_by_role("heading", name="No job right now")).to_be_visible()
        expect(tracker.locator("#trk-hero")).to_contain_text("Delivered")
        assert Order.objects.get(pk=order.id).status == "delivered"
        assert app.evaluate("window.sameDocument") is True and errors == []
    finally:
        phone.close()
        home.close()
