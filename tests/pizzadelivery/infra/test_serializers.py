"""``represent`` gives exactly what ``XOut(instance).data`` gives, for the hot paths' outputs."""
from __future__ import annotations

import threading

import pytest
from django.utils import timezone

from pizzadelivery.apis import OrderOut
from pizzadelivery.infra.serializers import represent
from pizzadelivery.mirror.documents import order_document
from pizzadelivery.mirror.readers import order_and_driver_documents_get
from pizzadelivery.selectors import order_queryset
from tests import factories
from tracking.apis import DeliveryStateOut
from tracking.selectors import build_state

pytestmark = pytest.mark.django_db(transaction=True)


def test_same_output_as_a_fresh_serializer(mirror) -> None:
    order = factories.order_at("out_for_delivery")
    order_doc, driver_doc, source = order_and_driver_documents_get(order.id)
    state = build_state(order_doc, driver_doc, source=source, now=timezone.now())
    assert represent(DeliveryStateOut, state) == DeliveryStateOut(state).data
    document = {**order_document(order_queryset().get(pk=order.id)), "tracking_url": "http://testserver/track/x/",
                "cancel_message": ""}
    assert represent(OrderOut, document) == OrderOut(document).data


def test_one_shared_instance_serves_threads_alike(mirror) -> None:
    orders = [factories.order_at(status) for status in ("dispatched", "out_for_delivery", "delivered")]
    states = []
    for order in orders:
        order_doc, driver_doc, source = order_and_driver_documents_get(order.id)
        states.append(build_state(order_doc, driver_doc, source=source, now=timezone.now()))
    expected = [DeliveryStateOut(state).data for state in states]
    results: list[bool] = []

    def serve(n: int) -> None:
        for _ in range(50):
            results.append(represent(DeliveryStateOut, states[n % 3]) == expected[n % 3])

    threads = [threading.Thread(target=serve, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 300 and all(results)
