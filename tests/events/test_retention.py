"""Retention: telemetry past EVENT_RETENTION_DAYS is compacted, lifecycle is kept, the route survives."""
from __future__ import annotations

import uuid
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from events.models import Batch, Event
from events.retention import PruneTask, prune_events
from pizzadelivery import services
from pizzadelivery.webhooks import services as webhooks
from pizzadelivery.webhooks.models import Delivery
from tests import factories
from tracking import selectors as tracking_selectors
from tracking.selectors import travelled_path

pytestmark = pytest.mark.django_db(transaction=True)

LATER = timedelta(days=8)  # past the default retention of 7 days


def _types() -> list[str]:
    return list(Event.objects.order_by("seq").values_list("type", flat=True))


def test_an_idle_drivers_old_positions_go_and_lifecycle_stays() -> None:
    driver = factories.driver()
    for step in range(5):
        services.driver_location_update(driver_id=driver.id, lat=52.52 + step / 1000, lng=13.40)
    factories.published()
    lifecycle = list(Event.objects.exclude(type="driver.location_updated").values_list("seq", flat=True))

    assert prune_events(now=timezone.now()).events == 0  # nothing is old yet
    result = prune_events(now=timezone.now() + LATER)

    assert result.events == 5
    assert not Event.objects.filter(type="driver.location_updated").exists()
    assert list(Event.objects.values_list("seq", flat=True)) == lifecycle
    # The batches of the positions are gone with them; the driver's registration batch stays.
    assert result.batches == 5
    assert Batch.objects.filter(events__isnull=False).distinct().count() == Batch.objects.count()


@override_settings(TRACKER_ROUTE_POINTS=3)
def test_an_orders_route_keeps_what_the_tracker_draws(monkeypatch) -> None:
    order = factories.order_at("out_for_delivery")
    for step in range(7):
        services.driver_location_update(driver_id=order.driver_id, lat=52.52 + step / 1000, lng=13.41)
    factories.published()
    drawn = travelled_path(order.id)
    assert len(drawn) == 3

    result = prune_events(now=timezone.now() + LATER)

    assert result.events == 4
    monkeypatch.setattr(tracking_selectors, "_paths", tracking_selectors._Paths())  # read it all again
    assert travelled_path(order.id) == drawn
    kept = Event.objects.filter(order_id=order.id, type="driver.location_updated").count()
    assert kept == 3
    assert "order.out_for_delivery" in _types() and "order.placed" in _types()


def test_unpublished_and_recent_telemetry_is_kept() -> None:
    driver = factories.driver()
    services.driver_location_update(driver_id=driver.id, lat=52.53, lng=13.40)
    services.driver_location_update(driver_id=driver.id, lat=52.54, lng=13.40)
    factories.published()
    newest = Event.objects.filter(type="driver.location_updated").order_by("-seq").first()
    Batch.objects.filter(pk=newest.batch_id).update(published_at=None)  # the relay has not sent it yet

    assert prune_events(days=7, now=timezone.now() + timedelta(days=6)).events == 0
    result = prune_events(now=timezone.now() + LATER)

    assert result.events == 1
    assert list(Event.objects.filter(type="driver.location_updated").values_list("seq", flat=True)) == [newest.seq]


@override_settings(WEBHOOK_ALLOW_PRIVATE=True)
def test_a_pending_webhook_delivery_keeps_its_event_and_finished_ones_are_forgotten() -> None:
    driver = factories.driver()
    for step in range(3):
        services.driver_location_update(driver_id=driver.id, lat=52.52 + step / 1000, lng=13.40)
    factories.published()
    endpoint = webhooks.endpoint_create(owner=factories.admin_user(), url="http://127.0.0.1:9/hook",
                                        event_types=["*"])
    pending, delivered, _ = Event.objects.filter(type="driver.location_updated").order_by("seq")
    for event, state in ((pending, Delivery.State.PENDING), (delivered, Delivery.State.DELIVERED)):
        Delivery.objects.create(endpoint=endpoint, event=event, message_id=uuid.uuid4(), event_type=event.type,
                                seq=event.seq, state=state)

    result = prune_events(now=timezone.now() + LATER)

    assert result.events == 2
    assert list(Event.objects.filter(type="driver.location_updated").values_list("seq", flat=True)) == [pending.seq]
    assert list(Delivery.objects.values_list("state", flat=True)) == [Delivery.State.PENDING]


def test_the_limit_leaves_the_rest_for_the_next_run(monkeypatch) -> None:
    monkeypatch.setattr("events.retention.WINDOW", 2)  # two event numbers per step
    driver = factories.driver()
    for step in range(5):
        services.driver_location_update(driver_id=driver.id, lat=52.52 + step / 1000, lng=13.40)
    factories.published()

    first = prune_events(now=timezone.now() + LATER, limit=2)
    assert first.complete is False and 2 <= first.events < 5
    second = prune_events(now=timezone.now() + LATER)
    assert second.complete is True and first.events + second.events == 5
    assert not Event.objects.filter(type="driver.location_updated").exists()


def test_only_what_happened_before_the_cutoff_is_looked_at(monkeypatch) -> None:
    from events.retention import _last_seq_before

    driver = factories.driver()
    for step in range(6):
        services.driver_location_update(driver_id=driver.id, lat=52.52 + step / 1000, lng=13.40)
    factories.published()
    reports = list(Event.objects.filter(type="driver.location_updated").order_by("seq"))
    Event.objects.filter(seq__gt=reports[2].seq).update(occurred_at=reports[2].occurred_at + timedelta(days=3))

    cutoff = reports[2].occurred_at + timedelta(days=1)
    assert _last_seq_before(cutoff) == reports[2].seq
    assert _last_seq_before(reports[0].occurred_at - timedelta(days=1)) == 0 or \
        _last_seq_before(reports[0].occurred_at - timedelta(days=1)) < reports[0].seq
    result = prune_events(days=0, now=cutoff)
    assert result.events == 3
    assert [e.seq for e in Event.objects.filter(type="driver.location_updated")] == [r.seq for r in reports[3:]]


def test_the_command_prunes_and_says_what(monkeypatch) -> None:
    driver = factories.driver()
    services.driver_location_update(driver_id=driver.id, lat=52.53, lng=13.40)
    factories.published()
    out = StringIO()
    call_command("prune_events", stdout=out)
    assert "pruned 0 telemetry event(s)" in out.getvalue()

    with override_settings(EVENT_RETENTION_DAYS=0):
        out = StringIO()
        call_command("prune_events", stdout=out)
        assert "every event is kept" in out.getvalue()
        assert Event.objects.filter(type="driver.location_updated").count() == 1

    monkeypatch.setattr(timezone, "now", lambda: Event.objects.latest("seq").occurred_at + timedelta(seconds=1))
    out = StringIO()
    call_command("prune_events", "--days", "0", stdout=out)
    assert "pruned 1 telemetry event(s)" in out.getvalue()
    assert not Event.objects.filter(type="driver.location_updated").exists()


@override_settings(EVENT_PRUNE_INTERVAL=3600)
def test_the_relay_task_prunes_at_most_hourly(monkeypatch) -> None:
    driver = factories.driver()
    services.driver_location_update(driver_id=driver.id, lat=52.53, lng=13.40)
    factories.published()
    task = PruneTask()
    monkeypatch.setattr(timezone, "now", lambda: Event.objects.latest("seq").occurred_at + LATER)

    assert task().events == 1
    services.driver_location_update(driver_id=driver.id, lat=52.54, lng=13.40)
    factories.published()
    assert task() is None  # within the hour: not run again
    with override_settings(EVENT_RETENTION_DAYS=0):
        assert PruneTask()() is None  # retention off
