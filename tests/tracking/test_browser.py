"""The tracker in a real Chromium against a real server: live updates, reconnects, polling."""
from __future__ import annotations

import json
import re
import time
import urllib.request

import pytest
from playwright.sync_api import Page, expect
from rest_framework.authtoken.models import Token

from pizzadelivery.models import Order
from tests.conftest import LiveServer
from tests.tracking.helpers import HOME, SHOP, advance, between, ready_then_dispatched, token

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def call_api(base_url: str, path: str, body: dict, api_key: str) -> dict:
    request = urllib.request.Request(f"{base_url}{path}", data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"Token {api_key}",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status in (200, 202)
        return json.loads(response.read())


def open_tracker(page: Page, base_url: str, link_token: str) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{base_url}/track/{link_token}/")
    expect(page.locator("#trk-conn")).to_have_attribute("data-state", "connected")
    page.evaluate("window.sameDocument = true")  # gone if anything reloads the page
    return errors


def current_step(page: Page):
    return page.locator('#trk-stepper [aria-current="step"]')


def test_the_tracker_follows_the_pizza_without_a_reload(live, page, mirror, staff):
    order, driver = ready_then_dispatched()
    api_key = Token.objects.create(user=staff).key
    errors = open_tracker(page, live.url, token(order))
    eta = page.locator("#trk-eta")
    expect(eta).to_contain_text("Arriving at")
    expect(current_step(page)).to_have_attribute("data-step", "dispatched")
    first_countdown = page.inner_text("#trk-countdown")
    page.wait_for_timeout(1300)
    assert page.inner_text("#trk-countdown") != first_countdown  # it ticks by itself

    # The driver is sent the long way round: the ETA moves by minutes, the pin moves.
    eta_before = eta.inner_text()
    pin_before = page.get_attribute("#trk-driver-pin", "transform")
    call_api(live.url, f"/api/drivers/{driver.id}/location", {"lat": 52.49, "lng": 13.37}, api_key)
    # Answered at commit; the push follows from the publisher.
    expect(page.locator("#trk-driver-pin")).not_to_have_attribute("transform", pin_before)
    expect(eta).not_to_have_text(eta_before)
    expect(page.locator("#trk-map polyline.trk-route--todo")).to_have_count(1)

    # Picked up: the stepper moves on.
    call_api(live.url, f"/api/drivers/{driver.id}/location", {"lat": SHOP[0], "lng": SHOP[1]}, api_key)
    call_api(live.url, f"/api/orders/{order.id}/transition", {"to": "out_for_delivery"}, api_key)
    expect(current_step(page)).to_have_attribute("data-step", "out_for_delivery")
    expect(page.locator('#trk-stepper [data-step="dispatched"]')).to_have_class(re.compile("trk-step--done"))
    expect(page.locator("#trk-hero")).to_contain_text("Your pizza is on its way")
    expect(page).to_have_title(re.compile(r"^Out for delivery · Order "))

    # Half way, then round the corner: the path travelled grows, then "arriving".
    call_api(live.url, f"/api/drivers/{driver.id}/location", dict(zip(("lat", "lng"), between(SHOP, HOME, 0.5))),
             api_key)
    expect(page.locator("#trk-map polyline.trk-route--done")).to_have_count(1)
    near = (HOME[0] - 0.002, HOME[1])
    call_api(live.url, f"/api/drivers/{driver.id}/location", {"lat": near[0], "lng": near[1]}, api_key)
    expect(page.locator("#trk-hero")).to_contain_text("Almost there")
    expect(eta).to_contain_text("Arriving by")

    call_api(live.url, f"/api/orders/{order.id}/transition", {"to": "delivered", "pin": Order.objects.get(pk=order.id).delivery_pin}, api_key)
    expect(page.locator("#trk-hero")).to_contain_text("Delivered. Enjoy your pizza!")
    expect(page.locator("#trk-countdown")).to_be_hidden()
    expect(page.locator("#trk-progress [role=progressbar]")).to_have_attribute("aria-valuenow", "100")
    assert page.evaluate("window.sameDocument") is True
    assert errors == []


@pytest.fixture
def own_server(transactional_db):
    """A live server of this test's own, to stop and start again on the same port."""
    server = LiveServer().start()
    yield server
    server.stop()


def test_the_tracker_reconnects_by_itself_and_catches_up(own_server, page, mirror, staff):
    order, driver = ready_then_dispatched()
    api_key = Token.objects.create(user=staff).key
    errors = open_tracker(page, own_server.url, token(order))
    conn = page.locator("#trk-conn")

    own_server.stop()
    expect(conn).to_have_attribute("data-state", re.compile("reconnecting|polling"))
    # Meanwhile the order moves on (here, in the test process); no tracker is connected.
    advance(order, "out_for_delivery")
    own_server.start()

    expect(conn).to_have_attribute("data-state", "connected", timeout=20_000)
    expect(current_step(page)).to_have_attribute("data-step", "out_for_delivery")
    expect(page.locator("#trk-hero")).to_contain_text("Your pizza is on its way")
    # And the new socket carries pushes again.
    call_api(own_server.url, f"/api/orders/{order.id}/transition", {"to": "delivered", "pin": Order.objects.get(pk=order.id).delivery_pin}, api_key)
    expect(page.locator("#trk-hero")).to_contain_text("Delivered")
    assert page.evaluate("window.sameDocument") is True
    assert errors == []


def test_the_tracker_catches_up_through_a_redis_outage(page, own_redis, staff):
    """Redis stopped under an open tracker, then started empty: the page catches up over HTTP
    (answered from the database) without a push, and once the relay has rebuilt the mirror,
    pushes reach it again; never a reload."""
    from events.publisher import rebuild_projections
    from events.relay import relay_once

    rebuild_projections()
    order, driver = ready_then_dispatched()
    api_key = Token.objects.create(user=staff).key
    server = LiveServer(extra_env={"REDIS_URL": own_redis.url}).start()
    frames: list[str] = []
    page.on("websocket", lambda socket: socket.on(
        "framereceived", lambda frame: frames.append(frame if isinstance(frame, str) else "")))
    try:
        errors = open_tracker(page, server.url, token(order))
        expect(current_step(page)).to_have_attribute("data-step", "dispatched")

        own_redis.stop()
        pushed_before_outage = len(frames)
        advance(order, "out_for_delivery")  # committed; its batch waits in the outbox
        # No push can carry it: the page finds it by itself after a quiet spell (15 s).
        expect(current_step(page)).to_have_attribute("data-step", "out_for_delivery", timeout=30_000)
        expect(page.locator("#trk-hero")).to_contain_text("Your pizza is on its way")
        assert len(frames) == pushed_before_outage, "that came by push, not by the page catching up"

        own_redis.start()  # back, empty
        relay_once()  # rebuilds the mirror, publishes the backlog
        # Pushes flow again once the channel layer has resubscribed (channels_redis reconnects
        # with a back-off): within 20 s a location update reaches the page over its socket.
        before = len(frames)
        deadline = time.monotonic() + 20
        step = 0
        while len(frames) == before and time.monotonic() < deadline:
            step += 1
            lat, lng = between(SHOP, HOME, min(0.9, 0.1 * step))
            call_api(server.url, f"/api/drivers/{driver.id}/location", {"lat": lat, "lng": lng}, api_key)
            page.wait_for_timeout(1000)
        assert len(frames) > before, "no push reached the tracker after Redis came back"
        call_api(server.url, f"/api/orders/{order.id}/transition", {"to": "delivered", "pin": Order.objects.get(pk=order.id).delivery_pin}, api_key)
        expect(page.locator("#trk-hero")).to_contain_text("Delivered", timeout=5_000)
        assert any("Delivered" in frame for frame in frames[before:])
        assert page.evaluate("window.sameDocument") is True
        assert errors == []
    finally:
        server.stop()


def test_without_websockets_the_tracker_polls_every_5_seconds(page, mirror, transactional_db):
    server = LiveServer(extra_env={"UVICORN_WS": "none"}).start()  # no WebSocket upgrades
    try:
        order, _driver = ready_then_dispatched()
        page.goto(f"{server.url}/track/{token(order)}/")
        conn = page.locator("#trk-conn")
        expect(conn).to_have_attribute("data-state", "polling", timeout=15_000)
        expect(conn).to_contain_text("every 5 s")

        advance(order, "out_for_delivery")

        expect(current_step(page)).to_have_attribute("data-step", "out_for_delivery", timeout=8_000)
    finally:
        server.stop()


def test_a_broken_link_gets_a_friendly_page(live, page):
    response = page.goto(f"{live.url}/track/not-a-real-link/")

    assert response.status == 404
    expect(page.locator("h1")).to_have_text("We can't find that delivery")
    expect(page.get_by_role("link", name="Browse pizzerias")).to_be_visible()


def test_readable_on_a_phone(live, browser, mirror):
    order, _driver = ready_then_dispatched()
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)
    try:
        phone = context.new_page()
        phone.goto(f"{live.url}/track/{token(order)}/")
        expect(phone.locator("#trk-conn")).to_have_attribute("data-state", "connected")
        overflow = phone.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0  # nothing wider than the screen
        for selector in ("#trk-eta", "#trk-hero", "#trk-map svg", "#trk-stepper", "#trk-driver"):
            box = phone.locator(selector).bounding_box()
            assert box is not None and box["width"] <= 375
    finally:
        context.close()


def test_opened_while_redis_is_down_the_tracker_polls_then_goes_live(page, own_redis, transactional_db, staff):
    """The socket's handshake finds no channel layer: closed 1013 (it used to be an HTTP 500),
    which the page retries while it polls; once Redis is back the socket opens and pushes."""
    from events.publisher import rebuild_projections
    from events.relay import relay_once

    rebuild_projections()
    order, _driver = ready_then_dispatched()
    server = LiveServer(extra_env={"REDIS_URL": own_redis.url}).start()
    closes: list[int] = []
    page.on("websocket", lambda socket: socket.on("close", lambda ws: closes.append(1)))
    try:
        own_redis.stop()
        page.goto(f"{server.url}/track/{token(order)}/")
        conn = page.locator("#trk-conn")
        expect(conn).to_have_attribute("data-state", "polling", timeout=20_000)
        advance(order, "out_for_delivery")  # committed; Redis is down, the poll finds it
        expect(current_step(page)).to_have_attribute("data-step", "out_for_delivery", timeout=10_000)
        assert closes, "the socket was never answered"
        own_redis.start()
        relay_once()
        expect(conn).to_have_attribute("data-state", "connected", timeout=40_000)  # the retries reach it
    finally:
        server.stop()


def test_copy_link_puts_the_tracking_link_on_the_clipboard(live, browser, mirror):
    order, _driver = ready_then_dispatched()
    context = browser.new_context(viewport={"width": 390, "height": 844})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live.url)
    page = context.new_page()
    try:
        page.goto(f"{live.url}/track/{token(order)}/")
        link = f"{live.url}/track/{token(order)}/"
        expect(page.get_by_test_id("tracking-link")).to_have_value(link)
        page.evaluate("navigator.clipboard.writeText('something else')")
        page.get_by_role("button", name="Copy link").click()
        expect(page.locator("#trk-copy-status")).to_have_text("Link copied")
        assert page.evaluate("navigator.clipboard.readText()") == link
    finally:
        context.close()


def test_a_german_tracker_gets_its_live_pushes_in_german(live, browser, mirror, staff):
    order, driver = ready_then_dispatched()
    api_key = Token.objects.create(user=staff).key
    german = browser.new_context(locale="de-DE", viewport={"width": 390, "height": 844})
    english = browser.new_context(locale="en-GB", viewport={"width": 390, "height": 844})
    try:
        pages = {"de": german.new_page(), "en": english.new_page()}
        for language, page in pages.items():
            open_tracker(page, live.url, token(order))
            assert page.locator("html").get_attribute("lang") == language
        expect(pages["de"].locator("#trk-eta")).to_contain_text("Ankunft um")
        expect(pages["de"].locator("#trk-conn")).to_have_text("Live")

        call_api(live.url, f"/api/drivers/{driver.id}/location", {"lat": SHOP[0], "lng": SHOP[1]}, api_key)
        call_api(live.url, f"/api/orders/{order.id}/transition", {"to": "out_for_delivery"}, api_key)

        expect(pages["de"].locator("#trk-hero")).to_contain_text("Ihre Pizza ist unterwegs")
        expect(pages["de"]).to_have_title(re.compile(r"^Unterwegs zu Ihnen · Bestellung "))
        expect(pages["en"].locator("#trk-hero")).to_contain_text("Your pizza is on its way")
        assert pages["de"].evaluate("window.sameDocument") is True  # pushed, not reloaded
    finally:
        german.close()
        english.close()
