from __future__ import annotations

import pytest

from events.models import Batch
from events.publisher import load_batches
from pizzadelivery import services
from pizzadelivery.infra.redis import key
from statedash import fanout
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


def test_state_pushes_are_rendered_once_per_language(mirror) -> None:
    factories.order_at("dispatched")

    messages = fanout.state_messages(["en", "de"])

    assert "Active deliveries" in messages["en"]["html"] and "Laufende Lieferungen" not in messages["en"]["html"]
    assert "Laufende Lieferungen" in messages["de"]["html"] and "Active deliveries" not in messages["de"]["html"]
    assert messages["en"]["seq"] == messages["de"]["seq"]  # one state, two renderings
    assert fanout.dashboard_group("de") != fanout.dashboard_group("en")
