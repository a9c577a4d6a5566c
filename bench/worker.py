"""Django-side jobs of the benchmark, run as ``python -m bench.worker JOB`` inside the
benchmark's environment (its own database and Redis; see ``stack.BenchStack.env``). Arguments come
as JSON on stdin; the result is printed as JSON on the last line of stdout.

Jobs:
  seed       migrate the fresh database, seed the dataset, rebuild the mirror
  events     event batches per second through the dispatcher, end to end: services called in a
             loop, each batch committed, published to Redis (MULTI/EXEC) and fanned out
  lifecycle  N concurrent writers walking orders through the lifecycle, then the order kept
             checked (database sequence, batches, Redis stream, each order's status events)
  grow       bulk-insert millions of published position reports (set-based SQL), Redis as if
             they had been published, and the table sizes
"""
from __future__ import annotations

import json
import math
import os
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
    """Orders walked through their whole life by the services, one transition per call.
    ``writer`` picks the restaurant (writers spread over the open ones)."""

    STEPS: ClassVar[list[str]] = ["confirmed", "preparing", "ready", "dispatched", "out_for_delivery", "delivered"]

    def __init__(self, writer: int = 0) -> None:
        from pizzadelivery.models import Restaurant

        restaurants = list(Restaurant.objects.filter(is_open=True).order_by("id").prefetch_related("menu_items"))
        restaurant = restaurants[writer % len(restaurants)]
        self.restaurant_id = restaurant.id
        self.menu_item_id = next(item.id for item in restaurant.menu_items.all() if item.is_available)
        self.near = (float(restaurant.lat) + 0.01, float(restaurant.lng) + 0.01)
        self.in_flight: list[tuple[Any, int]] = []  # (order id, index of its next step)
        self.created: list[Any] = []

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
            self.created.append(order.id)
            return
        order_id, index = self.in_flight.pop(0)
        try:
            step = self.STEPS[index]
            services.order_transition(order_id=order_id, to=step, pin=Order.objects.get(pk=order_id).delivery_pin
                                      if step == "delivered" else None)
        except DomainError:  # e.g. no driver available at this moment: give the order up
            try:
                services.order_transition(order_id=order_id, to="cancelled", reason="bench: no driver")
            except DomainError:
                pass
            return
        if index + 1 < len(self.STEPS):
            self.in_flight.append((order_id, index + 1))


# The status events of an order, in the order the lifecycle (and ``Lifecycle``) walks them;
# ``order.cancelled`` may end it after any of them.
STATUS_EVENTS = ["order.placed", *(f"order.{step}" for step in Lifecycle.STEPS)]


def _order_kept(first_batch: int, first_seq: int, order_ids: set[str]) -> dict[str, Any]:
    """Is the run's history one total order, the same in the database and in Redis?

    - the database's events of the run have contiguous sequence numbers, and each batch's
      events are contiguous and follow the previous batch's;
    - every batch is published, and the Redis stream (entries ``<seq>-0``) holds exactly the
      database's events of the run, in sequence order, each with its id (no gap, none extra);
    - each order's status events, in sequence order, follow the lifecycle (placed first, then
      forward only, ``order.cancelled`` only last)."""
    import redis
    from django.conf import settings

    from events.models import Batch, Event
    from events.publisher import stream_key

    problems: list[str] = []
    rows = list(Event.objects.filter(seq__gt=first_seq).order_by("seq")
                .values_list("seq", "batch_id", "id", "type", "order_id"))
    seqs = [row[0] for row in rows]
    if seqs and seqs != list(range(first_seq + 1, first_seq + 1 + len(seqs))):
        problems.append(f"database sequence has gaps between {seqs[0]} and {seqs[-1]}")
    by_batch: dict[int, list[int]] = {}
    for seq, batch_id, *_ in rows:
        by_batch.setdefault(batch_id, []).append(seq)
    previous_last = first_seq
    for batch_id in sorted(by_batch):
        batch_seqs = by_batch[batch_id]
        if batch_seqs != list(range(batch_seqs[0], batch_seqs[0] + len(batch_seqs))):
            problems.append(f"batch {batch_id}'s events are not contiguous")
            break
        if batch_seqs[0] != previous_last + 1:
            problems.append(f"batch {batch_id} starts at {batch_seqs[0]}, after {previous_last}")
            break
        previous_last = batch_seqs[-1]
    unpublished = Batch.objects.filter(id__gt=first_batch, published_at__isnull=True).count()
    if unpublished:
        problems.append(f"{unpublished} batches of the run unpublished")
    published = set(Batch.objects.filter(id__gt=first_batch, published_at__isnull=False).values_list("id", flat=True))
    expected = [(f"{seq}-0", str(event_id)) for seq, batch_id, event_id, *_ in rows if batch_id in published]
    client = redis.Redis.from_url(settings.REDIS_URL, decode_responses=True)
    stream: list[tuple[str, str]] = []
    cursor = f"{first_seq + 1}-0"
    while True:
        chunk = client.xrange(stream_key(), min=cursor, max="+", count=5000)
        stream += [(entry_id, fields.get("id", "")) for entry_id, fields in chunk]
        if len(chunk) < 5000:
            break
        cursor = f"{int(chunk[-1][0].split('-')[0]) + 1}-0"
    if stream != expected:
        missing = len(set(expected) - set(stream))
        extra = len(set(stream) - set(expected))
        first_bad = next((i for i, (a, b) in enumerate(zip(stream, expected)) if a != b), min(len(stream), len(expected)))
        problems.append(f"the Redis stream differs from the database: {len(stream)} entries for {len(expected)} "
                        f"published events, {missing} missing, {extra} extra, first difference at index {first_bad}")
    statuses: dict[str, list[str]] = {}
    for _seq, _batch, _id, event_type, order_id in rows:
        if order_id is not None and str(order_id) in order_ids and (event_type in STATUS_EVENTS
                                                                   or event_type == "order.cancelled"):
            statuses.setdefault(str(order_id), []).append(event_type)
    out_of_order = 0
    for walked in statuses.values():
        steps = [STATUS_EVENTS.index(t) for t in walked if t != "order.cancelled"]
        cancelled = [i for i, t in enumerate(walked) if t == "order.cancelled"]
        if (not steps or steps[0] != 0 or steps != sorted(set(steps)) or len(cancelled) > 1
                or (cancelled and cancelled[0] != len(walked) - 1)):
            out_of_order += 1
    if out_of_order:
        problems.append(f"{out_of_order} of {len(statuses)} orders' status events do not follow the lifecycle")
    return {"order_kept": not problems, "reason": "; ".join(problems) or None, "events_checked": len(rows),
            "stream_entries_checked": len(stream), "orders_checked": len(statuses)}


def job_lifecycle(args: dict[str, Any]) -> dict[str, Any]:
    """``writers`` threads, each walking its own orders through the lifecycle with the services
    (``Lifecycle``, one restaurant per writer), for ``duration`` seconds; every call is one
    batch, committed and published (a lifecycle change waits for its publish) before it
    returns. Then the order of what was written is verified (``_order_kept``)."""
    import threading

    from django.db import connection

    from bench.stats import summarize_ms
    from events.handoff import publisher_thread
    from events.models import Batch, Event

    writers = int(args["writers"])
    duration = float(args["duration"])
    first_batch = Batch.objects.order_by("-id").values_list("id", flat=True).first() or 0
    first_seq = Event.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    calls: list[list[float]] = [[] for _ in range(writers)]
    failures: list[dict[str, int]] = [{} for _ in range(writers)]
    created: list[list[Any]] = [[] for _ in range(writers)]
    start = threading.Barrier(writers + 1)
    deadline = [0.0]

    def write(index: int) -> None:
        try:
            lifecycle = Lifecycle(index)
            start.wait()
            while time.monotonic() < deadline[0]:
                sent = time.monotonic()
                try:
                    lifecycle.step()
                except Exception as exc:  # noqa: BLE001 - counted and reported, the run goes on
                    failures[index][type(exc).__name__] = failures[index].get(type(exc).__name__, 0) + 1
                    continue
                calls[index].append(time.monotonic() - sent)
            created[index] = lifecycle.created
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(i,), name=f"writer-{i}") for i in range(writers)]
    for thread in threads:
        thread.start()
    deadline[0] = time.monotonic() + duration
    started = time.monotonic()
    start.wait()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    publisher_thread.wait_idle(timeout=30)
    batches = Batch.objects.filter(id__gt=first_batch)
    count = batches.count()
    failed: dict[str, int] = {}
    for per_writer in failures:
        for name, n in per_writer.items():
            failed[name] = failed.get(name, 0) + n
    result = {"writers": writers, "duration_s": round(elapsed, 2), "batches": count,
              "batches_per_s": round(count / elapsed, 1),
              "events": Event.objects.filter(seq__gt=first_seq).count(),
              "rolled_back_batches": batches.filter(kind=Batch.Kind.ROLLBACK).count(),
              "failed_calls": failed,
              "batch_latency": summarize_ms([c for per_writer in calls for c in per_writer]),
              "orders_created": sum(len(c) for c in created)}
    result.update(_order_kept(first_batch, first_seq, {str(o) for per_writer in created for o in per_writer}))
    return result


# Growth: synthetic position reports, as a 2,000-driver city writes them (400 a second, one
# per batch), ending a minute ago: well inside EVENT_RETENTION_DAYS, so nothing prunes them.
GROWTH_RATE_PER_S = 400
GROWTH_CHUNK = 500_000  # events per statement (and transaction)

_PG_BATCHES = """
INSERT INTO events_batch (id, correlation_id, kind, created_at, published_at, publish_attempts, last_error)
SELECT %(b0)s + g, 'bench-growth', 'change', t, t, 1, ''
FROM (SELECT g, %(t0)s::timestamptz + make_interval(secs => (%(i0)s + g) * %(dt)s) AS t
      FROM generate_series(1, %(count)s) AS g) AS s
"""
_PG_EVENTS = """
INSERT INTO events_event (seq, id, batch_id, type, correlation_id, order_id, driver_id, payload, occurred_at)
SELECT %(e0)s + g, gen_random_uuid(), %(b0)s + g, 'driver.location_updated', 'bench-growth',
       CASE WHEN g %% 4 = 0 THEN NULL ELSE (%(orders)s::uuid[])[k] END, (%(drivers)s::bigint[])[k],
       jsonb_build_object('lat', round(((%(lats)s::float8[])[k] + ((g %% 100) - 50) * 0.0001)::numeric, 6),
                          'lng', round(((%(lngs)s::float8[])[k] + ((g %% 100) - 50) * 0.0001)::numeric, 6),
                          'heading', (g * 37) %% 360, 'speed_kmh', 18.0,
                          'reported_at', to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')),
       t
FROM (SELECT g, 1 + (%(i0)s + g) %% %(k)s AS k,
             %(t0)s::timestamptz + make_interval(secs => (%(i0)s + g) * %(dt)s) AS t
      FROM generate_series(1, %(count)s) AS g) AS s
"""
_SQLITE_BATCHES = """
WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < %s)
INSERT INTO events_batch (id, correlation_id, kind, created_at, published_at, publish_attempts, last_error)
SELECT %s + g, 'bench-growth', 'change', t, t, 1, ''
FROM (SELECT g, strftime('%%Y-%%m-%%d %%H:%%M:%%f', %s + (%s + g) * %s, 'unixepoch') AS t FROM s)
"""
_SQLITE_EVENTS = """
WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < %s)
INSERT INTO events_event (seq, id, batch_id, type, correlation_id, order_id, driver_id, payload, occurred_at)
SELECT %s + g, lower(hex(randomblob(16))), %s + g, 'driver.location_updated', 'bench-growth',
       CASE WHEN g %% 4 = 0 THEN NULL ELSE o.order_id END, o.driver_id,
       json_object('lat', round(o.lat + ((g %% 100) - 50) * 0.0001, 6),
                   'lng', round(o.lng + ((g %% 100) - 50) * 0.0001, 6),
                   'heading', (g * 37) %% 360, 'speed_kmh', 18.0,
                   'reported_at', strftime('%%Y-%%m-%%dT%%H:%%M:%%f+00:00', tt, 'unixepoch')),
       strftime('%%Y-%%m-%%d %%H:%%M:%%f', tt, 'unixepoch')
FROM (SELECT g, %s + (%s + g) * %s AS tt, 1 + (%s + g) %% %s AS k FROM s) AS x
JOIN bench_growth_orders AS o ON o.k = x.k
"""


def _table_sizes(vendor: str) -> dict[str, int]:
    from django.conf import settings
    from django.db import connection

    if vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_total_relation_size('events_event'), pg_total_relation_size('events_batch'), "
                           "pg_database_size(current_database())")
            event, batch, database = cursor.fetchone()
        return {"events_event_bytes": event, "events_batch_bytes": batch, "database_bytes": database}
    name = str(settings.DATABASES["default"]["NAME"])
    size = sum(os.path.getsize(path) for path in (name, f"{name}-wal") if os.path.exists(path))
    return {"database_file_bytes": size}


def _mirror_growth(first_seq: int | None, count: int) -> int:
    """Redis as if the grown batches had been published: the stream gets their last
    ``EVENT_STREAM_MAXLEN`` events (production's stream keeps no more) and the mirror's source
    records the last batch. Without that, the relay's repair (``publisher.mirror_problem``)
    would take them for published batches Redis lost and publish them all again."""
    import redis
    from django.conf import settings

    from events.models import Event, Sequence
    from events.publisher import PublishedEvent, source_key, stream_key

    if not first_seq or not count:
        return 0
    client = redis.Redis.from_url(settings.REDIS_URL, decode_responses=True)
    last_batch = Sequence.objects.values_list("last_batch", flat=True).get(pk="events")
    start = max(first_seq, first_seq + count - settings.EVENT_STREAM_MAXLEN)
    added = 0
    events = Event.objects.filter(seq__gte=start, seq__lt=first_seq + count).order_by("seq")
    for offset in range(0, first_seq + count - start, 10_000):
        with client.pipeline(transaction=False) as pipe:
            for event in events[offset:offset + 10_000]:
                pipe.xadd(stream_key(), PublishedEvent.from_model(event).as_stream_fields(event.batch_id),
                          id=f"{event.seq}-0", maxlen=settings.EVENT_STREAM_MAXLEN, approximate=True)
                added += 1
            pipe.execute()
    client.hset(source_key(), "batch", last_batch)
    return added


def job_grow(args: dict[str, Any]) -> dict[str, Any]:
    """Bulk-insert ``events`` synthetic published position reports (``driver.location_updated``,
    one per batch, spread over the drivers of the orders and their routes) with set-based SQL:
    ``generate_series`` on PostgreSQL, a recursive CTE on SQLite, ``GROWTH_CHUNK`` per
    transaction, each advancing ``events_sequence`` (``last_batch``, ``last_event``) by what it
    inserts. Then PostgreSQL's VACUUM ANALYZE (what autovacuum would do after such inserts)."""
    from django.db import connection, transaction
    from django.utils import timezone

    from events.models import Event
    from pizzadelivery.models import Order

    total = int(args["events"])
    vendor = connection.vendor
    before = _table_sizes(vendor)
    events_before = Event.objects.count()
    orders = list(Order.objects.filter(driver__isnull=False).order_by("-placed_at")
                  .values_list("id", "driver_id", "delivery_lat", "delivery_lng")[:5000])
    k = len(orders)
    dt = 1 / GROWTH_RATE_PER_S
    t0 = timezone.now().timestamp() - 60 - total * dt
    started = time.monotonic()
    if vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("CREATE TEMP TABLE IF NOT EXISTS bench_growth_orders "
                           "(k INTEGER PRIMARY KEY, order_id TEXT, driver_id INTEGER, lat REAL, lng REAL)")
            cursor.execute("DELETE FROM bench_growth_orders")
            cursor.executemany("INSERT INTO bench_growth_orders VALUES (%s, %s, %s, %s, %s)",
                               [(i + 1, order_id.hex, driver_id, float(lat), float(lng))
                                for i, (order_id, driver_id, lat, lng) in enumerate(orders)])
    inserted = 0
    first_growth_seq = None
    table = connection.ops.quote_name("events_sequence")
    while inserted < total:
        count = min(GROWTH_CHUNK, total - inserted)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"UPDATE {table} SET last_batch = last_batch + %s, last_event = last_event + %s "
                           "WHERE name = %s RETURNING last_batch - %s, last_event - %s",
                           [count, count, "events", count, count])
            b0, e0 = cursor.fetchone()
            first_growth_seq = e0 + 1 if first_growth_seq is None else first_growth_seq
            if vendor == "postgresql":
                from datetime import datetime, timezone as tz

                params = {"b0": b0, "e0": e0, "i0": inserted, "count": count, "k": k, "dt": dt,
                          "t0": datetime.fromtimestamp(t0, tz.utc),
                          "orders": [o[0] for o in orders], "drivers": [o[1] for o in orders],
                          "lats": [float(o[2]) for o in orders], "lngs": [float(o[3]) for o in orders]}
                cursor.execute(_PG_BATCHES, params)
                cursor.execute(_PG_EVENTS, params)
            else:
                cursor.execute(_SQLITE_BATCHES, [count, b0, t0, inserted, dt])
                cursor.execute(_SQLITE_EVENTS, [count, e0, b0, t0, inserted, dt, inserted, k])
        inserted += count
    insert_seconds = time.monotonic() - started
    mirrored = _mirror_growth(first_growth_seq, inserted)
    if vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE events_event")
            cursor.execute("VACUUM ANALYZE events_batch")
    after = _table_sizes(vendor)
    events_after = Event.objects.count()
    grown = {name: after[name] - before.get(name, 0) for name in after}
    event_bytes = grown.get("events_event_bytes", 0) + grown.get("events_batch_bytes", 0) \
        or grown.get("database_file_bytes", 0)
    return {"events": inserted, "events_before": events_before, "events_after": events_after,
            "insert_seconds": round(insert_seconds, 1), "events_per_s": round(inserted / max(insert_seconds, 1e-6)),
            "vacuum_analyze_seconds": round(time.monotonic() - started - insert_seconds, 1),
            "sizes_before": before, "sizes_after": after,
            "bytes_per_event": round(event_bytes / max(1, inserted), 1),
            "orders_used": k, "stream_entries_added": mirrored}


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


JOBS = {"seed": job_seed, "events": job_events, "lifecycle": job_lifecycle, "grow": job_grow}


if __name__ == "__main__":
    _setup()
    result = JOBS[sys.argv[1]](json.load(sys.stdin))
    print(json.dumps(result, default=lambda v: None if isinstance(v, float) and math.isnan(v) else str(v)))
