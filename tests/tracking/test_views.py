"""The tracker page and its live-fragment endpoint, over HTTP."""
from __future__ import annotations

import re
import uuid

import pytest
from django.test import Client

from pizzadelivery.models import Order
from pizzadelivery.tokens import tracking_token_for
from tests import factories
from tests.tracking.helpers import advance, move, ready_then_dispatched, token
from tracking.fragments import render_live
from tracking.selectors import tracker_snapshot

pytestmark = pytest.mark.django_db(transaction=True)

LIVE_IDS = ["trk-sync", "trk-hero", "trk-eta", "trk-progress", "trk-driver", "trk-stepper", "trk-map", "trk-cancel"]
HEADLINES = {
    "placed": "Order received",
    "confirmed": "confirmed your order",
    "preparing": "Your pizza is in the oven",
    "ready": "Your pizza is ready",
    "dispatched": "is heading to",
    "out_for_delivery": "Your pizza is on its way",
    "delivered": "Delivered. Enjoy your pizza!",
    "cancelled": "This order was cancelled",
}


@pytest.fixture
def browser() -> Client:  # a customer: no login
    return Client()


def oob_ids(html: str) -> list[str]:
    return re.findall(r'<\w+ id="(trk-[a-z]+)"[^>]*hx-swap-oob=', html)


@pytest.mark.parametrize("status", list(HEADLINES))
def test_the_page_works_for_every_status(browser, mirror, status):
    order = factories.order_at(status)
    link_token = token(order)  # signed with a timestamp: take it once

    response = browser.get(f"/track/{link_token}/")

    assert response.status_code == 200
    html = response.content.decode()
    assert order.code in html
    assert HEADLINES[status] in html
    assert f'ws-connect="/ws/track/{link_token}/?lang=en"' in html
    assert 'aria-live="polite"' in html
    assert oob_ids(html)[:1] == ["trk-hero"]  # the page holds every live fragment ...
    assert set(oob_ids(html)) == set(LIVE_IDS)  # ... and the push replaces exactly those
    for label in ("Placed", "Confirmed", "In the oven", "Ready", "Driver on the way to the shop",
                  "Out for delivery", "Delivered"):
        assert label in html
    assert "max-age=0" in response["Cache-Control"] and "no-store" in response["Cache-Control"]


def test_the_page_shows_driver_eta_and_map_once_dispatched(browser, mirror):
    order, driver = ready_then_dispatched()
    move(driver, 52.5212, 13.4055)

    html = browser.get(f"/track/{token(order)}/").content.decode()

    assert driver.name in html
    assert "Scooter" in html
    assert 'id="trk-driver-pin"' in html
    assert "Arriving at" in html
    assert 'aria-current="step" data-step="dispatched"' in html


def test_before_dispatch_the_page_has_no_driver_yet(browser, mirror):
    order = factories.order_at("preparing")

    html = browser.get(f"/track/{token(order)}/").content.decode()

    assert "We will assign a driver" in html
    assert 'id="trk-driver-pin"' not in html
    assert "Expected around" in html


@pytest.mark.parametrize("bad", ["garbage", "x" * 1000, "a:b:c", "%F0%9F%8D%95", tracking_token_for(uuid.uuid4())])
def test_a_bad_link_is_a_friendly_404(browser, mirror, bad):
    response = browser.get(f"/track/{bad}/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert "find that delivery" in response.content.decode()


def test_an_expired_link_is_a_friendly_page(browser, mirror, settings):
    order = factories.order_at("cancelled")
    link = f"/track/{token(order)}/"
    settings.TRACKING_LINK_HOURS = 0

    for path in (link, link + "live/"):
        response = browser.get(path)
        assert response.status_code == 403
        assert "This tracking link has expired" in response.content.decode()
        assert order.code in response.content.decode()
    forged = browser.get("/track/d2fb42ea354149c18951b945d5d1a466:forged/")
    assert forged.status_code == 404 and "We can't find that delivery" in forged.content.decode()


def test_live_returns_what_the_socket_pushes(browser, mirror):
    order, driver = ready_then_dispatched()
    move(driver, 52.5212, 13.4055)

    response = browser.get(f"/track/{token(order)}/live/")

    assert response.status_code == 200
    html = response.content.decode()
    assert oob_ids(html) == LIVE_IDS
    pushed = render_live(tracker_snapshot(order.id))
    strip_clock = re.compile(r'data-server-now="[^"]*"')
    assert strip_clock.sub("", html) == strip_clock.sub("", pushed)


def test_user_text_is_escaped(browser, mirror):
    evil = factories.restaurant(name="<img src=x onerror=alert(1)>")
    order = factories.order(restaurant_obj=evil, address="<script>alert('addr')</script>",
                            notes="<b onclick=x>ring</b>")
    order = advance(order, "confirmed")

    html = browser.get(f"/track/{token(order)}/").content.decode()

    assert "<script>alert('addr')</script>" not in html
    assert "&lt;script&gt;alert(&#x27;addr&#x27;)&lt;/script&gt;" in html
    assert "<img src=x" not in html
    assert "<b onclick" not in html


def test_post_is_refused(browser, mirror):
    order = factories.order_at("placed")

    assert browser.post(f"/track/{token(order)}/").status_code == 405


def test_the_page_works_with_redis_down(own_redis, browser):
    order, driver = ready_then_dispatched()
    own_redis.stop()

    response = browser.get(f"/track/{token(order)}/")

    assert response.status_code == 200
    assert driver.name in response.content.decode()
    assert browser.get(f"/track/{token(order)}/live/").status_code == 200


def test_the_customer_cancels_while_placed_after_confirming(browser, mirror) -> None:
    order = factories.order_at("placed")
    tracker = browser.get(f"/track/{token(order)}/").content.decode()
    assert 'href="cancel/"' in tracker and 'id="trk-cancel-dialog"' in tracker
    asked = browser.get(f"/track/{token(order)}/cancel/")
    assert asked.status_code == 200 and "Yes, cancel my order" in asked.content.decode()
    assert Order.objects.get(pk=order.id).status == "placed"  # asking changes nothing
    done = browser.post(f"/track/{token(order)}/cancel/")
    assert done.status_code == 302 and done["Location"] == f"/track/{token(order)}/"
    cancelled = Order.objects.get(pk=order.id)
    assert cancelled.status == "cancelled" and cancelled.cancel_code == "customer_asked"
    after = browser.get(f"/track/{token(order)}/").content.decode()
    assert "You cancelled this order" in after and 'href="cancel/"' not in after


@pytest.mark.parametrize("status", ["confirmed", "out_for_delivery", "cancelled"])
def test_no_cancel_once_the_kitchen_confirmed(browser, mirror, status) -> None:
    order = factories.order_at(status)
    assert 'href="cancel/"' not in browser.get(f"/track/{token(order)}/").content.decode()
    refused = browser.post(f"/track/{token(order)}/cancel/")
    assert refused.status_code == 409 and "can no longer be cancelled" in refused.content.decode()
    assert Order.objects.get(pk=order.id).status == status


def test_cancel_with_a_forged_link_is_404(browser, mirror) -> None:
    order = factories.order_at("placed")
    assert browser.post(f"/track/{token(order)}x/cancel/").status_code == 404
    assert browser.post("/track/nonsense/cancel/").status_code == 404
    assert Order.objects.get(pk=order.id).status == "placed"
