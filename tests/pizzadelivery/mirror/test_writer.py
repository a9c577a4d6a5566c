"""The mirror projection reads what a batch touched in as few queries as the batch allows."""
from __future__ import annotations

import json

import pytest

from events.models import Batch
from events.publisher import RedisWrites, load_batches
from pizzadelivery import services
from pizzadelivery.mirror import keys
from pizzadelivery.mirror import writer as mirror
from tests import factories

pytestmark = pytest.mark.django_db


def _last_batch_projected(django_assert_num_queries, queries: int) -> RedisWrites:
    (published,) = load_batches([Batch.objects.order_by("-id").first()])
    writes = RedisWrites()
    with django_assert_num_queries(queries):
        mirror.project(published, writes)
    return writes


def _driver_doc(writes: RedisWrites, driver_id: int) -> dict:
    (mapping,) = [kwargs["mapping"] for op, (name, *_), kwargs in writes.ops
                  if op == "hset" and name == keys.driver(driver_id)]
    return json.loads(mapping["doc"])


def test_a_location_update_projects_the_order_and_its_driver_from_one_read(django_assert_num_queries) -> None:
    order = factories.order_at("out_for_delivery")
    services.driver_location_update(driver_id=order.driver_id, lat=52.521, lng=13.401)
    # The order with its restaurant, driver and customer, then its items: nothing for the driver.
    writes = _last_batch_projected(django_assert_num_queries, 2)
    doc = _driver_doc(writes, order.driver_id)
    assert doc["current_order_id"] == str(order.id)
    assert doc["location"]["lat"] == 52.521 and doc["location"]["lng"] == 13.401


def test_a_driver_whose_order_ended_is_looked_up_for_another_active_one(django_assert_num_queries) -> None:
    order = factories.order_at("delivered")
    # Delivered: the order no longer says which delivery the driver is on, so the driver's
    # active delivery is queried (there is none).
    writes = _last_batch_projected(django_assert_num_queries, 3)
    assert _driver_doc(writes, order.driver_id)["current_order_id"] is None


def test_a_batch_without_orders_reads_its_drivers(django_assert_num_queries) -> None:
    driver = factories.driver()
    services.driver_location_update(driver_id=driver.id, lat=52.5, lng=13.4)
    writes = _last_batch_projected(django_assert_num_queries, 2)  # the driver, its active delivery
    assert _driver_doc(writes, driver.id)["current_order_id"] is None
