"""The batch API: all or nothing, ordered, correlated; a failure leaves only its rollback event."""
from __future__ import annotations

import json

import pytest
from django.db import DatabaseError

from events.models import Batch, Event
from events.publisher import stream_key
from events.registry import InvalidEvent
from events.services import batch
from pizzadelivery import services
from pizzadelivery.models import Customer, Order
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


def _stream(redis_client) -> list[dict[str, str]]:
    """Stream entries, less the fixtures' own (driver.registered)."""
    return [fields for _id, fields in redis_client.xrange(stream_key()) if fields["type"] != "driver.registered"]


def test_a_batch_commits_with_the_change_and_is_published_in_order(redis_client, mirror) -> None:
    driver = factories.driver()
    with batch(correlation_id="corr-1") as events:
        Customer.objects.create(name="Grace", phone="12345")
        events.add("driver.status_changed", driver_id=driver.id,
                   payload={"status": "offline", "previous_status": "available"})
        events.add("driver.status_changed", driver_id=driver.id,
                   payload={"status": "available", "previous_status": "offline"})
    stored = list(Event.objects.filter(correlation_id="corr-1").order_by("seq"))
    assert [e.type for e in stored] == ["driver.status_changed", "driver.status_changed"]
    assert stored[1].seq == stored[0].seq + 1
    assert Batch.objects.get(correlation_id="corr-1").published_at is not None
    entries = [(entry_id, f) for entry_id, f in redis_client.xrange(stream_key()) if f["correlation_id"] == "corr-1"]
    assert [entry_id for entry_id, _ in entries] == [f"{e.seq}-0" for e in stored]
    assert [json.loads(f["payload"])["status"] for _, f in entries] == ["offline", "available"]


def test_exception_in_the_middle_stores_nothing_and_records_a_rollback(redis_client, mirror) -> None:
    driver = factories.driver()
    with pytest.raises(RuntimeError, match="kitchen on fire"):
        with batch(correlation_id="corr-fail") as events:
            Customer.objects.create(name="Grace", phone="12345")
            events.add("driver.status_changed", driver_id=driver.id,
                       payload={"status": "offline", "previous_status": "available"})
            raise RuntimeError("kitchen on fire")
    assert not Customer.objects.exists()
    rollback = Event.objects.get(type="batch.rolled_back")
    assert rollback.correlation_id == "corr-fail"
    assert rollback.payload == {"reason": "RuntimeError: kitchen on fire", "attempted": ["driver.status_changed"]}
    published = _stream(redis_client)
    assert [(f["type"], f["correlation_id"]) for f in published] == [("batch.rolled_back", "corr-fail")]


def test_database_error_on_the_last_insert_stores_nothing(redis_client, mirror, failing_event_insert) -> None:
    driver = factories.driver()
    with pytest.raises(DatabaseError):
        with batch(correlation_id="corr-db") as events:
            Customer.objects.create(name="Grace", phone="12345")
            events.add("driver.status_changed", driver_id=driver.id,
                       payload={"status": "offline", "previous_status": "available"})
            events.add("driver.status_changed", driver_id=failing_event_insert,
                       payload={"status": "offline", "previous_status": "available"})
    assert not Customer.objects.exists()
    assert list(Event.objects.filter(correlation_id="corr-db").values_list("type", flat=True)) == [
        "batch.rolled_back"]
    rollback = Event.objects.get(correlation_id="corr-db")
    assert "refused by test trigger" in rollback.payload["reason"]
    assert rollback.payload["attempted"] == ["driver.status_changed", "driver.status_changed"]
    assert [f["type"] for f in _stream(redis_client)] == ["batch.rolled_back"]


def test_a_refused_service_call_leaves_no_trace(mirror) -> None:
    order = factories.order()
    before = Event.objects.count()
    with pytest.raises(services.InvalidTransition):
        factories.deliver(order.id)
    assert Event.objects.count() == before
    assert not Event.objects.filter(type="batch.rolled_back").exists()


def test_payloads_are_validated_when_the_batch_is_built() -> None:
    with pytest.raises(InvalidEvent):
        with batch() as events:
            events.add("order.confirmed", order_id=None, payload={"code": "x", "status": "x", "kitchen_status": "x"})
    with pytest.raises(InvalidEvent):
        with batch() as events:
            events.add("driver.location_updated", driver_id=1, payload={"lat": "north"})
    with pytest.raises(InvalidEvent):
        with batch() as events:
            events.add("no.such.type", payload={})
    assert not Event.objects.exclude(type__in=["batch.rolled_back", "driver.registered"]).exists()


def test_a_batch_must_be_the_outermost_transaction() -> None:
    from django.db import transaction

    with pytest.raises(RuntimeError):
        with transaction.atomic():
            with batch():
                pass


def test_transition_batch_shares_one_correlation_id(mirror) -> None:
    order = factories.order_at("confirmed")
    factories.driver()
    services.order_transition(order_id=order.id, to="dispatched")
    dispatch = Event.objects.get(type="order.dispatched", order_id=order.id)
    same_batch = list(Event.objects.filter(batch_id=dispatch.batch_id).values_list("type", flat=True))
    assert same_batch == ["order.dispatched", "driver.assigned", "delivery.eta_updated"]
    assert set(Event.objects.filter(batch_id=dispatch.batch_id).values_list("correlation_id", flat=True)) == {
        dispatch.correlation_id}
    assert Order.objects.get(pk=order.id).status == "dispatched"
