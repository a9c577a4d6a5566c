"""Django-side jobs of the benchmark, run as ``python -m bench.worker JOB`` inside the
benchmark's environment (its own database and Redis; see ``stack.BenchStack.env``). Arguments come
as JSON on stdin; the result is printed as JSON on the last line of stdout.

Jobs:
  seed    migrate the fresh database, seed the dataset, rebuild the mirror
  events  event batches per second through the dispatcher, end to end: services called in a
          loop, each batch committed, published to Redis (MULTI/EXEC) and fanned out
"""
from __future__ import annotations

import json
import math
import sys
import time
from typing import Any, ClassVar


def _setup() -> None:
    import django

    django.setup()


def job_seed(args: dict[str, Any]) -> dict[str, Any]:
    from django.core.management import call_command

    from bench.seed import SeedPlan, seed

    started = time.monotonic()
    call_command("migrate", verbosity=0)
    migrated = time.monotonic()
    dataset = seed(SeedPlan(orders=args["orders"], drivers=args["drivers"]))
    dataset["seconds"] = {"migrate": round(migrated - started, 1), "seed": round(time.monotonic() - migrated, 1)}
    return dataset


class Lifecycle:
    """Orders walked through their whole life by the services, one transition per call."""

    STEPS: ClassVar[list[str]] = ["confirmed", "preparing", "ready", "dispatched", "out_for_delivery", "delivered"]

    def __init__(self) -> None:
        from pizzadelivery.models import Restaurant

        restaurant = Restaurant.objects.filter(is_open=True).prefetch_related("menu_items").first()
        self.restaurant_id = restaurant.id
        self.menu_item_id = restaurant.menu_items.all()[0].id
        self.near = (float(restaurant.lat) + 0.01, float(restaurant.lng) + 0.01)
        self.in_flight: list[tuple[Any, int]] = []  # (order id, index of its next step)

    def step(self) -> None:
        """One batch: a new order, or the next transition of the oldest one in flight."""
        from pizzadelivery import services
        from pizzadelivery.infra.errors import DomainError
        from pizzadelivery.models import Order

        if len(self.in_flight) < 4:
            order = services.order_create(
                restaurant_id=self.restaurant_id, lines=[services.LineInput(self.menu_item_id, 1)],
                customer_name="Bench Customer", customer_phone="+49 30 1234567", address="Benchweg 1",
                lat=self.near[0], lng=self.near[1])
            self.in_flight.append((order.id, 0))
            return
        order_id, index = self.in_flight.pop(0)
        try:
            step = self.STEPS[index]
            services.order_transition(order_id=order_id, to=step, pin=Order.objects.get(pk=order_id).delivery_pin
                                      if step == "delivered" else None)
        except DomainError:  # e.g. no driver available at this moment: give the order up
            services.order_transition(order_id=order_id, to="cancelled", reason="bench: no driver")
            return
        if index + 1 < len(self.STEPS):
            self.in_flight.append((order_id, index + 1))


def job_events(args: dict[str, Any]) -> dict[str, Any]:
    """Four in five calls move a driver with an active delivery (the commonest batch), one in five
    advances an order's lifecycle; every batch is committed, published and fanned out before the
    call returns (publishing runs on commit, in this process)."""
    from bench.stats import summarize_ms
    from events.handoff import publisher_thread
    from events.models import Batch, Event
    from events.selectors import outbox_backlog
    from pizzadelivery import services

    active = args["active"]
    duration = float(args["duration"])
    lifecycle = Lifecycle()
    first_batch = Batch.objects.order_by("-id").values_list("id", flat=True).first() or 0
    first_seq = Event.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    calls: list[float] = []
    started = time.monotonic()
    deadline = started + duration
    i = 0
    while time.monotonic() < deadline:
        i += 1
        sent = time.monotonic()
        if i % 5 == 0:
            lifecycle.step()
        else:
            move = active[i % len(active)]
            share = (i // len(active) % 50) / 50
            lat = move["from"][0] + share * (move["to"][0] - move["from"][0])
            lng = move["from"][1] + share * (move["to"][1] - move["from"][1])
            services.driver_location_update(driver_id=move["driver_id"], lat=lat, lng=lng, heading=90.0,
                                            speed_kmh=18.0)
        calls.append(time.monotonic() - sent)
    publisher_thread.wait_idle(timeout=30)  # position reports answer at commit: their publishing follows
    elapsed = time.monotonic() - started
    batches = Batch.objects.filter(id__gt=first_batch)
    count = batches.count()
    events = Event.objects.filter(seq__gt=first_seq).count()
    backlog = outbox_backlog()["pending_batches"]
    return {
        "duration_s": round(elapsed, 2), "service_calls": len(calls), "batches": count, "events": events,
        "batches_per_s": round(count / elapsed, 1), "events_per_s": round(events / elapsed, 1),
        "unpublished_batches": backlog,
        "rolled_back_batches": batches.filter(kind=Batch.Kind.ROLLBACK).count(),
        # Each call returns after commit, publish and fan-out: its duration is the batch's end to end.
        "batch_latency": summarize_ms(calls),
    }


JOBS = {"seed": job_seed, "events": job_events}


if __name__ == "__main__":
    _setup()
    result = JOBS[sys.argv[1]](json.load(sys.stdin))
    print(json.dumps(result, default=lambda v: None if isinstance(v, float) and math.isnan(v) else str(v)))
