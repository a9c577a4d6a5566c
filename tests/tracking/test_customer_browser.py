"""The customer's extras on the tracker, in a real Chromium against a real server: cancelling
while placed (a keyboard-usable confirmation), browser notifications, the Leaflet map."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from pizzadelivery import services
from pizzadelivery.models import Order
from tests import factories
from tests.conftest import csp_violations, in_thread, wait_for_js
from tests.tracking.helpers import HOME, advance, move, ready_then_dispatched, token

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


def test_with_tiles_the_tracker_draws_a_leaflet_map_that_follows_the_driver(live, tiled, tiles, page, mirror) -> None:
    order, driver = in_thread(ready_then_dispatched)
    in_thread(advance, order, "out_for_delivery")
    violations = csp_violations(page)
    errors = _open(page, tiled, order)
    expect(page.locator("#trk-leaflet .pd-pin--shop")).to_have_count(1)
    expect(page.locator("#trk-leaflet .pd-pin--home")).to_have_count(1)
    expect(page.locator("#trk-leaflet .pd-pin--driver")).to_have_count(1)
    expect(page.locator("#trk-leaflet path.pd-route--todo")).to_have_count(1)
    expect(page.locator("#trk-leaflet img.leaflet-tile-loaded").first).to_be_visible()
    assert tiles.requested and all(z >= 10 for z, _x, _y in tiles.requested)  # city-scale tiles, from our server
    expect(page.locator("#trk-leaflet .leaflet-control-attribution")).to_contain_text("© Test Tiles")
    expect(page.locator("#trk-map")).to_be_hidden()  # the offline drawing stands aside

    driver_pin = page.locator("#trk-leaflet .pd-pin--driver")
    before = driver_pin.bounding_box()
    in_thread(move, driver, HOME[0] - 0.004, HOME[1] - 0.001)
    wait_for_js(page, "(y) => { const r = document.querySelector('#trk-leaflet .pd-pin--driver')"
                      ".getBoundingClientRect(); return Math.abs(r.y - y) > 5; }", before["y"])
    after = driver_pin.bounding_box()
    assert after["y"] < before["y"] - 5  # it moved north on the screen, toward the door
    expect(page.locator("#trk-leaflet path.pd-route--done")).to_have_count(1)
    assert errors == [] and violations == []


def test_without_tiles_the_offline_map_stays(live, page, mirror) -> None:
    order, _driver = in_thread(ready_then_dispatched)
    _open(page, live, order)
    expect(page.locator("#trk-map svg")).to_be_visible()
    expect(page.locator("#trk-leaflet")).to_have_count(0)
    assert page.evaluate("typeof window.L") == "undefined"  # Leaflet is not even loaded


# Records every Notification the page makes (calling the real constructor), and lets the test
# say whether the tab is hidden (document.visibilityState).
NOTIFICATION_PROBE = """
window.__notifications = [];
window.__hidden = false;
const RealNotification = window.Notification;
window.Notification = class extends RealNotification {
  constructor(title, options) {
    super(title, options);
    window.__notifications.push({title: title, body: (options || {}).body, tag: (options || {}).tag});
  }
};
Object.defineProperty(Document.prototype, "visibilityState", {
  configurable: true, get() { return window.__hidden ? "hidden" : "visible"; }});
"""


def _with_notifications(page, live, order) -> None:
    page.context.grant_permissions(["notifications"], origin=live.url)
    page.add_init_script(NOTIFICATION_PROBE)
    _open(page, live, order)
    button = page.get_by_role("button", name="Notify me")
    button.click()
    expect(page.get_by_role("button", name="Notifications on")).to_have_attribute("aria-pressed", "true")


def test_arriving_and_delivered_notify_while_the_tab_is_hidden(live, page, mirror) -> None:
    order, driver = in_thread(ready_then_dispatched)
    order = in_thread(advance, order, "out_for_delivery")
    _with_notifications(page, live, order)
    page.evaluate("window.__hidden = true")
    in_thread(move, driver, HOME[0] - 0.004, HOME[1])  # still ~600 m away: not yet
    expect(page.locator("#trk-hero")).to_contain_text("on its way")
    page.wait_for_timeout(500)
    assert page.evaluate("window.__notifications") == []

    in_thread(move, driver, HOME[0] - 0.001, HOME[1])  # ~150 m: arriving
    wait_for_js(page, "window.__notifications.length === 1")
    in_thread(move, driver, HOME[0] - 0.0005, HOME[1])  # still arriving: no second one
    in_thread(factories.deliver, order.id)
    wait_for_js(page, "window.__notifications.length === 2")
    arriving, delivered = page.evaluate("window.__notifications")
    assert arriving["title"] == "Your pizza is almost there" and order.code in arriving["body"]
    assert delivered["title"] == "Delivered. Enjoy your pizza!" and delivered["tag"] == f"{order.code}-delivered"


def test_no_notification_while_the_customer_is_looking(live, page, mirror) -> None:
    order, driver = in_thread(ready_then_dispatched)
    order = in_thread(advance, order, "out_for_delivery")
    _with_notifications(page, live, order)
    in_thread(move, driver, HOME[0] - 0.001, HOME[1])
    expect(page.locator("#trk-hero")).to_contain_text("Almost there!")
    in_thread(factories.deliver, order.id)
    expect(page.locator("#trk-hero")).to_contain_text("Delivered")
    page.wait_for_timeout(500)
    assert page.evaluate("window.__notifications") == []
