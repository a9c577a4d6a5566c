"""The webhook services: deliveries made from the outbox once each (and never past a batch not
yet published), the retry schedule, disabling, endpoints' rules."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from events.models import Batch, Event
from events.relay import relay_once
from pizzadelivery.infra.errors import DomainError
from pizzadelivery.webhooks import services
from pizzadelivery.webhooks.models import Delivery, Endpoint
from pizzadelivery.webhooks.transport import Outcome
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


def _endpoint(user=None, types=("*",)) -> Endpoint:
    return services.endpoint_create(owner=user or factories.dispatcher_user(), url="https://pos.example.com/hook",
                                    event_types=list(types))


def test_every_published_event_becomes_one_delivery_once(mirror) -> None:
    factories.order()  # before the endpoint: not for it
    endpoint = _endpoint()
    order = factories.order_at("ready")
    made = services.deliveries_from_outbox() + services.deliveries_from_outbox()
    events = list(Event.objects.filter(seq__gt=endpoint.start_after_seq).order_by("seq"))
    assert made == len(events) and len(events) >= 4
    deliveries = list(Delivery.objects.filter(endpoint=endpoint).order_by("seq"))
    assert [(d.seq, d.message_id, d.event_type, d.state) for d in deliveries] == [
        (e.seq, e.id, e.type, "pending") for e in events]
    assert {d.order_key for d in deliveries if d.event_type.startswith("order.")} == {str(order.id)}


def test_the_cursor_waits_for_a_batch_the_relay_has_not_published(own_redis, transactional_db) -> None:
    relay_once()  # the mirror built on this test's Redis
    endpoint = _endpoint(types=["order.placed"])
    own_redis.stop()
    order = factories.order()  # committed; Redis down: the batch waits in the outbox
    assert Batch.objects.filter(published_at__isnull=True).exists()
    assert services.deliveries_from_outbox() == 0
    own_redis.start()
    relay_once()
    assert services.deliveries_from_outbox() == 1
    assert Delivery.objects.get(endpoint=endpoint).event.order_id == order.id


def test_only_subscribed_types_and_only_what_the_owner_may_read(mirror) -> None:
    mine, theirs = factories.restaurant(), factories.restaurant()
    kitchen = _endpoint(factories.kitchen_user(mine), types=["order.placed", "order.confirmed"])
    fleet = _endpoint(types=["order.placed"])
    mine_order = factories.order_at("confirmed", restaurant_obj=mine)
    factories.order_at("confirmed", restaurant_obj=theirs)
    factories.driver()  # driver.registered: nobody subscribed
    services.deliveries_from_outbox()
    assert sorted(Delivery.objects.filter(endpoint=kitchen).values_list("event_type", "event__order_id")) == [
        ("order.confirmed", mine_order.id), ("order.placed", mine_order.id)]
    assert Delivery.objects.filter(endpoint=fleet).count() == 2


def _claim_and_answer(outcome: Outcome) -> Delivery:
    claim = services.delivery_claim()
    assert claim is not None
    return services.delivery_record(claim=claim, outcome=outcome, started_at=timezone.now())


def test_retries_follow_the_schedule_then_fail(mirror, settings, clock) -> None:
    settings.WEBHOOK_RETRY_SCHEDULE = [5, 300]
    endpoint = _endpoint(types=["order.placed"])
    factories.order()
    services.deliveries_from_outbox()
    first = _claim_and_answer(Outcome(500, 12, "answered 500"))
    assert first.state == "pending" and first.attempts == 1
    assert first.next_attempt_at - timezone.now() == pytest.approx(timedelta(seconds=5), abs=timedelta(seconds=1))
    assert services.delivery_claim() is None  # not due yet
    clock.advance(seconds=6)
    second = _claim_and_answer(Outcome(503, 9, "answered 503", retry_after=120))
    assert second.next_attempt_at - timezone.now() == pytest.approx(timedelta(seconds=120), abs=timedelta(seconds=1))
    clock.advance(seconds=121)
    third = _claim_and_answer(Outcome(None, 10_000, "timed out after 10 s"))
    assert third.state == "failed" and third.next_attempt_at is None and third.attempts == 3
    assert Endpoint.objects.get(pk=endpoint.pk).active  # failing, but not for 5 days yet


def test_an_endpoint_failing_for_five_days_is_disabled_with_the_reason(mirror, clock) -> None:
    endpoint = _endpoint(types=["order.placed"])
    factories.order()
    services.deliveries_from_outbox()
    _claim_and_answer(Outcome(500, 12, "answered 500"))
    assert Endpoint.objects.get(pk=endpoint.pk).failing_since is not None
    clock.advance(days=5)
    _claim_and_answer(Outcome(502, 12, "answered 502"))
    disabled = Endpoint.objects.get(pk=endpoint.pk)
    assert not disabled.active and "5 days" in disabled.disabled_reason and "answered 502" in disabled.disabled_reason
    factories.order()
    assert services.deliveries_from_outbox() == 0 and services.delivery_claim() is None


def test_a_success_clears_the_failing_clock(mirror, clock) -> None:
    endpoint = _endpoint(types=["order.placed"])
    factories.order()
    factories.order()
    services.deliveries_from_outbox()
    _claim_and_answer(Outcome(500, 12, "answered 500"))
    _claim_and_answer(Outcome(200, 12))
    assert Endpoint.objects.get(pk=endpoint.pk).failing_since is None


def test_one_order_waits_behind_its_earlier_pending_event(mirror) -> None:
    endpoint = _endpoint(types=["order.placed", "order.confirmed"])
    order = factories.order_at("confirmed")
    other = factories.order()
    services.deliveries_from_outbox()
    placed = _claim_and_answer(Outcome(500, 5, "answered 500"))  # order.placed of `order` fails
    assert placed.event.order_id == order.id
    claim = services.delivery_claim()  # the confirmation waits; the other order goes on
    assert Delivery.objects.get(pk=claim.delivery_id).event.order_id == other.id
    services.delivery_record(claim=claim, outcome=Outcome(200, 5), started_at=timezone.now())
    assert services.delivery_claim() is None
    assert Delivery.objects.filter(endpoint=endpoint, state="pending").count() == 2




@pytest.mark.parametrize(("url", "types", "code"), [
    ("ftp://pos.example.com/hook", ["*"], "invalid_url"),
    ("https://user:pw@pos.example.com/hook", ["*"], "invalid_url"),
    ("https://pos.example.com/hook", ["order.eaten"], "invalid_event_type"),
    ("https://pos.example.com/hook", ["*", "order.placed"], "invalid_event_type"),
    ("https://pos.example.com/hook", [], "invalid_event_type"),
])
def test_an_endpoint_needs_an_http_url_and_known_types(transactional_db, url, types, code) -> None:
    with pytest.raises(DomainError) as refused:
        services.endpoint_create(owner=factories.dispatcher_user(), url=url, event_types=types)
    assert refused.value.code == code and not Endpoint.objects.exists()


def test_at_most_so_many_endpoints_each(transactional_db, settings) -> None:
    settings.WEBHOOK_MAX_ENDPOINTS = 2
    user = factories.dispatcher_user()
    _endpoint(user), _endpoint(user)
    with pytest.raises(DomainError) as refused:
        _endpoint(user)
    assert refused.value.code == "too_many_endpoints"
    _endpoint(factories.dispatcher_user("dispatcher-2"))  # someone else still may
