"""The mirror's readers never contradict the database: a miss is not "no such order"."""
from __future__ import annotations

import pytest

from events.models import Batch
from events.publisher import rebuild_projections
from events.services import REQUEST_BACKLOG_LIMIT
from pizzadelivery import services
from pizzadelivery.mirror.readers import order_and_driver_documents_get, order_document_get
from pizzadelivery.tokens import tracking_token_for
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_order_left_to_the_relay_is_read_from_the_database(own_redis, client) -> None:
    driver = factories.driver()
    rebuild_projections()
    own_redis.stop()  # a backlog builds up in the outbox while Redis is away
    for _ in range(REQUEST_BACKLOG_LIMIT + 1):
        services.driver_set_status(driver_id=driver.id, status="offline")
        services.driver_set_status(driver_id=driver.id, status="available")
    own_redis.start()  # back and still ready (the relay has not run): the mirror lacks the new order
    rebuild_projections()
    order = factories.order_at("dispatched")  # 201 to its customer; its batches wait behind the backlog
    assert Batch.objects.filter(published_at__isnull=True).count() > REQUEST_BACKLOG_LIMIT

    document, source = order_document_get(order.id)
    assert (document and document["status"], source) == ("dispatched", "database")
    order_doc, driver_doc, source = order_and_driver_documents_get(order.id)
    assert (order_doc["status"], driver_doc["id"], source) == ("dispatched", order.driver_id, "database")
    token = tracking_token_for(order.id)
    assert client.get(f"/track/{token}/").status_code == 200
    delivery = client.get(f"/api/orders/{order.id}/delivery", {"token": token})
    assert delivery.status_code == 200, delivery.content
    assert delivery.json()["status"] == "dispatched"
