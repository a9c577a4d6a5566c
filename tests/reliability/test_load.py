"""100 customers at once (LOAD_CUSTOMERS) order through the storefront and then follow their
pizza for LOAD_SECONDS (60) while the simulator runs the kitchens and drivers: zero errors."""
from __future__ import annotations

import http.cookiejar
import os
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter

import pytest

from events.publisher import rebuild_projections
from pizzadelivery.geocoding import DISTRICTS
from pizzadelivery.models import Order
from pizzadelivery.tokens import order_id_from_token
from tests import factories

pytestmark = pytest.mark.slow
CUSTOMERS = int(os.environ.get("LOAD_CUSTOMERS", "100"))
SECONDS = float(os.environ.get("LOAD_SECONDS", "60"))


class Customer(threading.Thread):
    def __init__(self, number: int, base: str, slug: str, item_id: int, until: float, tally: "Tally") -> None:
        super().__init__(daemon=True)
        self.number, self.base, self.slug, self.item_id, self.until, self.tally = number, base, slug, item_id, until, tally
        self.jar = http.cookiejar.CookieJar()
        self.browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.order_id: str | None = None

    def _csrf(self) -> str:
        return next(cookie.value for cookie in self.jar if cookie.name == "csrftoken")

    def _go(self, path: str, form: dict[str, str] | None = None) -> tuple[int, str, str]:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        headers = {"X-CSRFToken": self._csrf()} if form is not None else {}
        request = urllib.request.Request(self.base + path, data=data, headers=headers)
        try:
            with self.browser.open(request, timeout=15) as response:
                status, body, url = response.status, response.read().decode(), response.url
        except urllib.error.HTTPError as error:
            status, body, url = error.code, error.read().decode(errors="replace"), path
        except OSError as error:
            self.tally.fail(f"{path}: {error}")
            return 0, "", path
        self.tally.count(status, path, body)
        return status, body, url

    def run(self) -> None:
        self._go(f"/restaurants/{self.slug}/")
        self._go(f"/restaurants/{self.slug}/cart/add/", {"item": str(self.item_id), "quantity": "2"})
        district = DISTRICTS[self.number % len(DISTRICTS)]
        status, _body, url = self._go(f"/restaurants/{self.slug}/checkout/", {
            "name": f"Customer {self.number}", "phone": f"+49 30 {100000 + self.number}",
            "address": f"{district.streets[0]} {self.number + 1}", "district": district.slug, "notes": ""})
        match = re.search(r"/track/([^/]+)/$", url)  # checkout lands on the tracker
        if status != 200 or not match:
            self.tally.fail(f"checkout ended at {status} {url}")
            return
        token = urllib.parse.unquote(match.group(1))
        self.order_id = str(order_id_from_token(token))
        self.tally.placed(self.order_id)
        while time.monotonic() < self.until:
            self._go(f"/track/{token}/")
            self._go(f"/api/orders/{self.order_id}/delivery?token={urllib.parse.quote(token)}")
            time.sleep(1.0)


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.statuses: Counter[int] = Counter()
        self.failures: list[str] = []
        self.orders: list[str] = []

    def count(self, status: int, path: str, body: str) -> None:
        with self.lock:
            self.statuses[status] += 1
            if status >= 500 or (status >= 400 and "order_not_dispatched" not in body):
                self.failures.append(f"{path}: {status} {body[:160]!r}")

    def fail(self, what: str) -> None:
        with self.lock:
            self.failures.append(what)

    def placed(self, order_id: str) -> None:
        with self.lock:
            self.orders.append(order_id)


def test_customers_order_and_track_under_load_without_errors(stack) -> None:
    restaurant = factories.restaurant(slug="load-pizzeria")
    item = factories.menu_item(restaurant)
    for offset in range(20):
        factories.driver(lat=52.50 + offset * 0.003, lng=13.38 + offset * 0.003)
    rebuild_projections()
    server = stack.server(wsgi=True)  # HTTP the production way: granian, 2 workers x 2 threads
    stack.relay()
    stack.simulator("--speedup", "10", "--orders-per-minute", "0")
    tally = Tally()
    until = time.monotonic() + SECONDS
    customers = [Customer(n, server.url, restaurant.slug, item.id, until, tally) for n in range(CUSTOMERS)]
    for customer in customers:
        customer.start()
    for customer in customers:
        customer.join(SECONDS + 60)
    requests = sum(tally.statuses.values())
    print(f"\nload: {CUSTOMERS} customers, {SECONDS:.0f} s, {requests} requests, statuses {dict(tally.statuses)}")
    assert tally.failures == [], tally.failures[:10]
    assert len(tally.orders) == CUSTOMERS
    assert Order.objects.filter(pk__in=tally.orders).count() == CUSTOMERS
    assert requests >= CUSTOMERS * (SECONDS / 2)
