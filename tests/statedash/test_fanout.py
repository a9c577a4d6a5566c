from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.utils import timezone

from events.models import Event
from events.publisher import PublishedEvent, load_batches
from events.models import Batch
from events.registry import EVENT_TYPES
from pizzadelivery import services
from pizzadelivery.redis import key
from statedash import fanout, fragments
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


def test_nothing_is_computed_while_no_dashboard_is_open(mirror, redis_client) -> None:
    assert not fanout.dashboard_watched()
    factories.order_at("dispatched")
    assert not redis_client.exists(key("statedash", "state-push"))


def test_feed_message_is_the_batch_newest_first(mirror) -> None:
    order = factories.order_at("confirmed")
    services.order_transition(order_id=order.id, to="dispatched", driver_id=factories.driver().id)
    batch = load_batches([Batch.objects.order_by("-id").first()])[0]
    message = fanout.feed_message(batch)
    html = message["html"]
    assert message["seq"] == batch.last_seq
    positions = [html.index(t) for t in ("delivery.eta_updated", "driver.assigned", "order.dispatched")]
    assert positions == sorted(positions)
    assert f'value="feed:{batch.last_seq}"' in html


def test_position_batches_have_no_feed_rows(mirror) -> None:
    driver = factories.driver()
    services.driver_location_update(driver_id=driver.id, lat=52.53, lng=13.40)
    batch = load_batches([Batch.objects.order_by("-id").first()])[0]
    assert fanout.feed_message(batch) is None


def test_every_event_type_reads_as_a_sentence(mirror) -> None:
    delivered = factories.order_at("delivered")
    dispatched = factories.order_at("dispatched")
    services.order_transition(order_id=dispatched.id, to="cancelled", reason="customer called")
    driver = factories.driver(status="offline")
    services.driver_set_status(driver_id=driver.id, status="available")
    services.driver_location_update(driver_id=driver.id, lat=52.53, lng=13.40)
    events = list(Event.objects.order_by("seq"))
    rolled_back = PublishedEvent(seq=10**6, id="x", type="batch.rolled_back", correlation_id="abc", order_id=None,
                                 driver_id=None, payload={"reason": "IntegrityError: boom", "attempted": []},
                                 occurred_at=timezone.now())
    items = fragments.feed_items([*events, rolled_back])
    assert {item.type for item in items} == set(EVENT_TYPES)
    for item in items:
        assert item.summary, item.type
    by_type = {item.type: item for item in items}
    assert by_type["order.cancelled"].summary == "cancelled at dispatched: customer called"
    assert by_type["order.cancelled"].tone == "bad"
    assert by_type["driver.assigned"].order_code  # resolved from the order id
    assert by_type["order.delivered"].order_code == delivered.code
    assert by_type["driver.status_changed"].summary == f"{driver.name}: offline → available"


def test_describe_ignores_unknown_types() -> None:
    event = SimpleNamespace(type="order.teleported", payload={}, driver_id=None)
    assert fragments.describe(event, {}, {}) == ""
