"""Webhook tests: a real receiver, real senders in background threads, a short retry schedule."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
from django.db import connections

from pizzadelivery.webhooks import sender
from pizzadelivery.webhooks.models import Delivery
from tests.pizzadelivery.webhooks.receiver import Receiver, running_receiver

SCHEDULE = [0.3, 0.3, 0.3, 0.3, 0.3]
TIMEOUT_S = 1.0


@pytest.fixture(autouse=True)
def webhook_settings(settings) -> None:
    settings.WEBHOOK_RETRY_SCHEDULE = SCHEDULE
    settings.WEBHOOK_TIMEOUT_SECONDS = TIMEOUT_S
    settings.WEBHOOK_ALLOW_PRIVATE = True  # the receiver is on 127.0.0.1; the SSRF tests turn it off


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


@pytest.fixture
def senders(transactional_db) -> Iterator[Callable[[int], None]]:
    """``senders(n)`` starts n sender processes' worth of loops (each with two threads), as
    ``run_webhooks`` runs them; all stop at the end of the test."""
    stop = threading.Event()
    loops: list[threading.Thread] = []

    def start(count: int = 1) -> None:
        for _ in range(count):
            loop = threading.Thread(target=sender.run_forever, kwargs={"threads": 2, "interval": 0.05, "stop": stop},
                                    daemon=True)
            loop.start()
            loops.append(loop)

    yield start
    stop.set()
    for loop in loops:
        loop.join(timeout=10)
    connections.close_all()


def wait_until(condition: Callable[[], bool], *, timeout: float = 30, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def settled(endpoint_id: object) -> Callable[[], bool]:
    """No delivery of the endpoint pending any more (and at least one exists)."""
    def check() -> bool:
        deliveries = Delivery.objects.filter(endpoint_id=endpoint_id)
        return deliveries.exists() and not deliveries.filter(state=Delivery.State.PENDING).exists()
    return check
