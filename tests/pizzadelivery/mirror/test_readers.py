"""The mirror's readers never contradict the database: a miss is not "no such order"."""
from __future__ import annotations

import pytest

from events.models import Batch
from pizzadelivery.mirror.readers import order_and_driver_documents_get, order_document_get
from pizzadelivery.tokens import tracking_token_for
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_order_left_to_the_relay_is_read_from_the_database(mirror, client, monkeypatch) -> None:
    from events import services as event_services

    factories.driver()
    # The process that committed the order dies before handing its batches to its publisher:
    # they wait in the outbox for the relay, and the mirror lacks the new order meanwhile.
    monkeypatch.setattr(event_services, "_publish_after_commit", lambda batch_id, *, wait: None)
    order = factories.order_at("dispatched")  # 201 to its customer
    assert Batch.objects.filter(published_at__isnull=True).count() == 4  # placed, confirmed, ready, dispatched

    document, source = order_document_get(order.id)
    assert (document and document["status"], source) == ("dispatched", "database")
    order_doc, driver_doc, source = order_and_driver_documents_get(order.id)
    assert (order_doc["status"], driver_doc["id"], source) == ("dispatched", order.driver_id, "database")
    token = tracking_token_for(order.id)
    assert client.get(f"/track/{token}/").status_code == 200
    delivery = client.get(f"/api/orders/{order.id}/delivery", {"token": token})
    assert delivery.status_code == 200, delivery.content
    assert delivery.json()["status"] == "dispatched"
