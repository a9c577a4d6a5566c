"""The per-process publisher thread: position reports are gathered into one pass, a lifecycle
change cuts the gathering short and waits for its own pass, a stopped thread restarts."""
from __future__ import annotations

import time

import pytest

from events import publisher
from events.handoff import PublisherThread, publisher_thread
from events.models import Batch
from pizzadelivery import services
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def passes(monkeypatch) -> list[int]:
    """How many batches each publisher pass applied (one entry per publish_pending call that
    found something)."""
    applied: list[int] = []
    real = publisher.publish_pending

    def counting(*args, **kwargs):
        count = real(*args, **kwargs)
        if count:
            applied.append(count)
        return count

    monkeypatch.setattr(publisher, "publish_pending", counting)
    return applied


def test_position_reports_within_the_gathering_window_go_out_in_one_pass(passes, settings) -> None:
    settings.PUBLISH_GATHER_SECONDS = 0.5
    drivers = [factories.driver() for _ in range(5)]
    factories.published()
    passes.clear()

    started = time.monotonic()
    for driver in drivers:
        services.driver_location_update(driver_id=driver.id, lat=52.51, lng=13.39)
    assert time.monotonic() - started < 0.5  # answered at commit, none waited for its publish
    factories.published()

    assert passes == [5]
    assert not Batch.objects.filter(published_at__isnull=True).exists()


def test_a_lifecycle_change_cuts_the_gathering_short(passes, settings) -> None:
    settings.PUBLISH_GATHER_SECONDS = 5
    driver = factories.driver()
    order = factories.order()
    factories.published()  # (the setup's lifecycle batches went at once)
    passes.clear()

    services.driver_location_update(driver_id=driver.id, lat=52.51, lng=13.39)
    started = time.monotonic()
    services.order_transition(order_id=order.id, to="confirmed")  # waits for its pass
    waited = time.monotonic() - started

    assert waited < 1, "the lifecycle change waited for the gathering window"
    assert passes == [2]  # the report and the change, together
    assert not Batch.objects.filter(published_at__isnull=True).exists()


def test_a_stopped_thread_starts_again_on_the_next_hand_over() -> None:
    driver = factories.driver()
    publisher_thread.stop()
    services.driver_location_update(driver_id=driver.id, lat=52.51, lng=13.39)
    factories.published()
    assert not Batch.objects.filter(published_at__isnull=True).exists()


def test_a_hand_over_that_is_not_published_in_time_answers_false(settings) -> None:
    settings.PUBLISH_WAIT_SECONDS = 0.2
    thread = PublisherThread()
    thread._pass = lambda: time.sleep(1) or True  # a pass stuck behind a slow Redis
    started = time.monotonic()
    assert thread.hand_over(1, wait=True) is False
    assert time.monotonic() - started < 0.6
    thread.stop(timeout=3)
