"""Redis stops for OUTAGE_SECONDS (30 by default) under the simulator and live traffic, then
comes back empty: nothing answers 5xx, nothing acknowledged is lost, and once Redis is back the
mirror is rebuilt and every batch is published once, in order."""
from __future__ import annotations

import json
import os
import threading
import time
import urllib.error
import urllib.request
from collections import Counter

import pytest

from events.models import Batch, Event
from events.publisher import rebuild_projections, stream_key
from pizzadelivery.infra.redis import get_redis
from pizzadelivery.mirror import keys
from pizzadelivery.models import Order
from pizzadelivery.tokens import tracking_token_for
from tests import factories
from tests.mirror_check import mirror_differences

pytestmark = pytest.mark.slow
OUTAGE_SECONDS = float(os.environ.get("OUTAGE_SECONDS", "30"))


class Traffic:
    """Customers, integrators and a dispatcher hitting pages and APIs in a loop."""

    def __init__(self, base: str, token: str, order_body: dict, tracked: str, tracking: str) -> None:
        self.base, self.token, self.order_body = base, token, order_body
        self.tracked, self.tracking = tracked, tracking
        self.statuses: Counter[int] = Counter()
        self.failures: list[str] = []
        self.created: list[str] = []
        self.stop = threading.Event()

    def _call(self, path: str, body: dict | None = None, auth: bool = True) -> None:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if auth:
            headers["Authorization"] = f"Token {self.token}"
        request = urllib.request.Request(self.base + path, method="POST" if body is not None else "GET",
                                         data=json.dumps(body).encode() if body is not None else None, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        except OSError as error:
            self.failures.append(f"{path}: {error}")
            return
        self.statuses[status] += 1
        if status >= 500:
            self.failures.append(f"{path}: {status} {raw[:200]!r}")
        if body is not None and path == "/api/orders" and status == 201:
            self.created.append(json.loads(raw)["id"])

    def run(self) -> None:
        while not self.stop.is_set():
            self._call("/", auth=False)
            self._call(f"/track/{self.tracking}/", auth=False)
            self._call(f"/api/orders/{self.tracked}/delivery?token={self.tracking}", auth=False)
            self._call("/api/state")
            self._call("/healthz", auth=False)
            self._call("/api/orders", self.order_body)
            self._call("/api/drivers")
            time.sleep(0.05)


def test_redis_outage_under_load_loses_nothing(stack, token, own_redis) -> None:
    restaurant = factories.restaurant()
    item = factories.menu_item(restaurant)
    for offset in range(6):
        factories.driver(lat=52.52 + offset * 0.002, lng=13.40 + offset * 0.002)
    tracked = factories.order_at("dispatched", restaurant_obj=restaurant)
    rebuild_projections()
    server = stack.server()
    stack.relay()
    stack.simulator("--speedup", "20", "--orders-per-minute", "0")
    order_body = {"restaurant": restaurant.id, "items": [{"menu_item": item.id, "quantity": 1}],
                  "customer": {"name": "Outage Olga", "phone": "+49 30 555"},
                  "delivery_address": {"text": "Invalidenstraße 1", "lat": 52.53, "lng": 13.39}}
    traffic = Traffic(server.url, token, order_body, str(tracked.id), tracking_token_for(tracked.id))
    threads = [threading.Thread(target=traffic.run, daemon=True) for _ in range(3)]
    for thread in threads:
        thread.start()
    time.sleep(3)
    before_outage = len(traffic.created)
    own_redis.stop()
    time.sleep(OUTAGE_SECONDS)
    during_outage = traffic.created[before_outage:]
    pending_at_restart = Batch.objects.filter(published_at__isnull=True).count()
    own_redis.start()  # empty: this Redis keeps nothing
    deadline = time.monotonic() + 40  # recovery happens under the same traffic
    while time.monotonic() < deadline and not (get_redis().exists(keys.ready())
                                               and not Batch.objects.filter(published_at__isnull=True).exists()):
        time.sleep(0.2)
    time.sleep(2)
    traffic.stop.set()
    for thread in threads:
        thread.join(15)
    stack.stop("simulator")
    time.sleep(1.5)  # the relay drains what the simulator wrote last

    print(f"\nredis outage: {OUTAGE_SECONDS:.0f} s down, {sum(traffic.statuses.values())} responses "
          f"{dict(traffic.statuses)}, {len(during_outage)} orders placed during the outage, "
          f"{pending_at_restart} batches waited in the outbox")
    assert traffic.failures == [], traffic.failures[:10]
    assert sum(traffic.statuses.values()) > 100
    assert during_outage, "orders placed while Redis was down were refused"
    assert Order.objects.filter(pk__in=during_outage).count() == len(during_outage)
    assert pending_at_restart > 0  # the outbox really held batches during the outage
    assert not Batch.objects.filter(published_at__isnull=True).exists()
    published = [int(entry_id.split("-")[0]) for entry_id, _ in get_redis().xrange(stream_key())]
    assert published == sorted(set(published))  # in order, none twice
    db_seqs = list(Event.objects.order_by("seq").values_list("seq", flat=True))
    assert published == db_seqs[len(db_seqs) - len(published):]
    assert db_seqs == list(range(db_seqs[0], db_seqs[0] + len(db_seqs)))
    assert mirror_differences() == []
