"""The dashboard's map on real tiles (MAP_TILES_URL), in Chromium: every active delivery drawn,
the driver's pin following the live updates; without tiles, no map and no Leaflet."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.conftest import csp_violations, in_thread, login_page, wait_for_js
from tests.tracking.helpers import HOME, advance, move, ready_then_dispatched

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_with_tiles_the_dashboard_maps_the_deliveries_live(live, tiled, tiles, page, mirror) -> None:
    order, driver = in_thread(ready_then_dispatched)
    in_thread(advance, order, "out_for_delivery")
    login_page(page, tiled, in_thread(factories.dispatcher_user))
    violations = csp_violations(page)
    page.goto(f"{tiled.url}/dashboard/")
    leaflet = page.locator("#dash-leaflet")
    expect(leaflet.locator(".pd-pin--shop")).to_have_count(1)
    expect(leaflet.locator(".pd-pin--home")).to_have_count(1)
    expect(leaflet.locator(".pd-pin--driver")).to_have_count(1)
    expect(leaflet.locator("path.pd-route--todo")).to_have_count(1)
    expect(leaflet.locator("img.leaflet-tile-loaded").first).to_be_visible()
    assert tiles.requested

    before = leaflet.locator(".pd-pin--driver").bounding_box()
    in_thread(move, driver, HOME[0] - 0.004, HOME[1] - 0.001)
    wait_for_js(page, "(y) => Math.abs(document.querySelector('#dash-leaflet .pd-pin--driver')"
                      ".getBoundingClientRect().y - y) > 5", before["y"], timeout=15)
    second, _ = in_thread(ready_then_dispatched)  # another delivery joins the map
    expect(leaflet.locator(".pd-pin--driver")).to_have_count(2, timeout=15_000)
    assert violations == []


def test_without_tiles_the_dashboard_has_no_map(live, page, mirror) -> None:
    login_page(page, live, in_thread(factories.dispatcher_user))
    page.goto(f"{live.url}/dashboard/")
    expect(page.locator("#dash-conn")).to_have_attribute("data-state", "live")
    expect(page.locator("#dash-leaflet")).to_have_count(0)
    assert page.evaluate("typeof window.L") == "undefined"
