"""The dashboard in Chromium: live without a reload, and true through a Redis restart."""
from __future__ import annotations

import json
import re
import time
import urllib.request
from typing import TypeVar

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import Page, expect
from rest_framework.authtoken.models import Token

from events.publisher import rebuild_projections
from pizzadelivery import services
from tests import factories
from tests.conftest import LiveServer, in_thread

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
PUSHED = 3_000  # ms: a push arrives well within this
POLLED = 12_000  # ms: two 5-s polls
T = TypeVar("T")


def _stat(page: Page, name: str):
    return page.locator(f'#dash-stats [data-stat="{name}"]')


def _log_in(page: Page, live: LiveServer, user) -> None:
    """A staff session made here and handed to the browser. (conftest's login_page types the
    password into the admin form, but the test settings hash it with MD5, which the live
    server, on the product's settings, does not accept.)"""
    client = Client()
    client.force_login(user)
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "url": live.url,
                               "value": client.cookies[settings.SESSION_COOKIE_NAME].value}])


def _open_dashboard(page: Page, live: LiveServer, staff) -> None:
    _log_in(page, live, staff)
    page.goto(f"{live.url}/dashboard/")
    expect(page.locator("#dash-conn")).to_have_attribute("data-state", "live")
    page.evaluate("window.notReloaded = true")


def _post(live: LiveServer, token: str, path: str, body: dict) -> dict:
    request = urllib.request.Request(
        f"{live.url}{path}", method="POST", data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Token {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status in (200, 201)
        return json.loads(response.read())


def _place_over_http(live: LiveServer, token: str, shop) -> dict:
    item = shop.menu_items.first()
    return _post(live, token, "/api/orders", {
        "restaurant": shop.id, "items": [{"menu_item": item.id, "quantity": 2}],
        "customer": {"name": "Grace Hopper", "phone": "+49 30 555 0100"},
        "delivery_address": {"text": "Invalidenstraße 43", "lat": 52.53, "lng": 13.38}})


def test_a_dispatcher_logs_in_and_lands_on_the_dashboard(page: Page, live, mirror) -> None:
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    dispatcher = factories.dispatcher_user("dispatch-desk")
    # The live server runs the product's hashers: give this password a hash they accept.
    dispatcher.password = PBKDF2PasswordHasher().encode("correct horse battery", "saltsaltsalt")
    dispatcher.save(update_fields=["password"])
    page.goto(f"{live.url}/dashboard/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/dashboard/$"))
    page.get_by_label("Username").fill("dispatch-desk")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_label("Password").press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("Please enter a correct username and password")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/dashboard/$"))
    expect(page.locator("#dash-conn")).to_have_attribute("data-state", "live")


def test_stats_and_feed_change_without_a_reload(page: Page, live, staff, mirror) -> None:
    order = in_thread(factories.order_at, "ready")
    driver = in_thread(factories.driver)
    token = Token.objects.create(user=staff).key
    _open_dashboard(page, live, staff)
    expect(_stat(page, "orders_today")).to_have_text("1")
    expect(_stat(page, "active_deliveries")).to_have_text("0")

    # A new order through the live server's API: its batch is pushed to the open dashboard.
    new = _place_over_http(live, token, order.restaurant)
    expect(page.locator("#feed-list")).to_contain_text(new["code"], timeout=PUSHED)
    expect(_stat(page, "orders_today")).to_have_text("2", timeout=POLLED)

    # The ready order is dispatched.
    _post(live, token, f"/api/orders/{order.id}/transition", {"to": "dispatched", "driver_id": driver.id})
    dispatched_row = page.locator("#feed-list .feed-item[data-type='order.dispatched']").first
    expect(dispatched_row).to_contain_text(order.code, timeout=PUSHED)
    expect(_stat(page, "active_deliveries")).to_have_text("1", timeout=POLLED)
    expect(page.locator("#dash-deliveries")).to_contain_text(order.code, timeout=POLLED)
    expect(page.locator("#dash-deliveries")).to_contain_text(driver.name)

    # Its correlation id opens the whole batch.
    dispatched_row.locator("a.cid").click()
    batch = page.locator("#batch-detail")
    for event_type in ("order.dispatched", "driver.assigned", "delivery.eta_updated"):
        expect(batch).to_contain_text(event_type)

    in_thread(services.order_transition, order_id=order.id, to="out_for_delivery")  # published here
    expect(page.locator("#dash-deliveries")).to_contain_text("Out for delivery", timeout=POLLED)
    expect(page.locator("#dash-updated")).to_have_text(re.compile(r"updated (just now|\d+ s ago)"))
    assert page.evaluate("window.notReloaded") is True
    assert page.locator("#batch-detail").inner_text()  # an open batch survives the live updates
    page.locator("#batch-detail button", has_text="Close").click()
    expect(page.locator("#batch-detail")).to_be_empty()


def test_dashboard_stays_true_while_redis_restarts(page: Page, own_redis, staff) -> None:
    rebuild_projections()
    in_thread(factories.order)
    server = LiveServer(extra_env={"REDIS_URL": own_redis.url}).start()
    frames: list[str] = []
    sockets_opened: list[int] = []

    def watch(socket) -> None:
        sockets_opened.append(1)
        socket.on("framereceived", lambda frame: frames.append(frame if isinstance(frame, str) else ""))

    page.on("websocket", watch)
    try:
        _open_dashboard(page, server, staff)
        expect(page.locator("#dash-stamp")).to_contain_text("Redis mirror")

        own_redis.stop()
        placed_meanwhile = in_thread(factories.order)  # committed; its batch waits in the outbox
        expect(page.locator("#dash-stamp")).to_contain_text("Degraded", timeout=POLLED)
        expect(_stat(page, "orders_today")).to_have_text("2", timeout=POLLED)
        expect(page.locator("#feed-list")).to_contain_text(placed_meanwhile.code)
        expect(page.locator("#dash-health .health-row", has_text="Redis")).to_have_class(re.compile("status-down"))

        own_redis.start()  # back, empty: the relay rebuilds the mirror and publishes the backlog
        from events.relay import relay_once

        in_thread(relay_once)
        expect(page.locator("#dash-stamp")).to_contain_text("Redis mirror", timeout=POLLED)
        expect(page.locator("#dash-health .health-row", has_text="Redis")).to_have_class(re.compile("status-ok"),
                                                                                      timeout=POLLED)
        expect(_stat(page, "orders_today")).to_have_text("2")

        # Pushes flow again on the same socket once the channel layer has resubscribed after the
        # restart (channels_redis reconnects with a backoff): within 20 s an order arrives by push.
        token = Token.objects.create(user=staff).key
        pushed = None
        deadline = time.monotonic() + 20
        while pushed is None and time.monotonic() < deadline:
            new = _place_over_http(server, token, placed_meanwhile.restaurant)
            for _ in range(30):
                if any(new["code"] in frame for frame in frames):
                    pushed = new
                    break
                page.wait_for_timeout(100)
        assert pushed is not None, "no order came by push after the restart, only by poll"
        expect(page.locator("#feed-list")).to_contain_text(pushed["code"], timeout=POLLED)
        assert sockets_opened == [1], "the page kept its one socket"
        assert page.evaluate("window.notReloaded") is True
    finally:
        server.stop()
