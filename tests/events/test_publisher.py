"""Publishing: one MULTI/EXEC per batch, in order, never twice, nothing lost across Redis faults."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest
from django.conf import settings

from events.models import Batch, Event
from events.publisher import last_stream_seq, publish_pending, rebuild_projections, stream_key
from events.relay import relay_once
from pizzadelivery import services
from pizzadelivery.infra.redis import get_redis
from pizzadelivery.mirror import keys
from tests import factories
from tests.mirror_check import mirror_differences

pytestmark = pytest.mark.django_db(transaction=True)


def _stream_seqs() -> list[int]:
    return [int(entry_id.split("-")[0]) for entry_id, _ in get_redis().xrange(stream_key())]


def _db_seqs(**filters: object) -> list[int]:
    return list(Event.objects.filter(**filters).order_by("seq").values_list("seq", flat=True))


def test_a_batch_reaches_redis_as_one_multi_exec(own_redis) -> None:
    order = factories.order_at("confirmed")
    factories.driver()
    rebuild_projections()
    monitor_client = get_redis().__class__.from_url(own_redis.url, decode_responses=True)
    seen: list[str] = []
    ready = threading.Event()

    def watch() -> None:
        with monitor_client.monitor() as monitor:
            ready.set()
            for command in monitor.listen():
                seen.append(command["command"])
                if command["command"] == "EXEC":
                    return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    ready.wait(5)
    deadline = time.monotonic() + 5
    while "PING" not in seen and time.monotonic() < deadline:  # the monitor sees commands now
        get_redis().ping()
    services.order_transition(order_id=order.id, to="dispatched")
    watcher.join(5)
    verbs = [command.split(" ", 1)[0].upper() for command in seen]
    assert "MULTI" in verbs and verbs[-1] == "EXEC"
    inside = verbs[verbs.index("MULTI") + 1:-1]
    assert inside.count("XADD") == 3  # order.dispatched, driver.assigned, delivery.eta_updated
    assert "HSET" in inside and "GEOADD" not in verbs[:verbs.index("MULTI")]
    # Nothing of the batch was written outside the transaction.
    assert not {"XADD", "HSET", "ZADD", "ZREM", "GEOADD", "SADD"} & set(verbs[:verbs.index("MULTI")])


def test_a_key_of_the_wrong_type_is_replaced_inside_the_same_transaction(mirror, redis_client) -> None:
    order = factories.order()
    redis_client.set(keys.order(order.id), "not a hash")
    services.order_transition(order_id=order.id, to="confirmed")
    assert redis_client.type(keys.order(order.id)) == "hash"
    assert redis_client.hget(keys.order(order.id), "status") == "confirmed"
    assert _stream_seqs() == _db_seqs()
    assert mirror_differences() == []


def test_a_replay_after_a_crash_between_exec_and_marking_adds_nothing(mirror) -> None:
    order = factories.order()
    services.order_transition(order_id=order.id, to="confirmed")
    before = _stream_seqs()
    # The process died after EXEC, before it could mark the batch published.
    Batch.objects.update(published_at=None)
    assert publish_pending() == 0
    assert _stream_seqs() == before
    assert not Batch.objects.filter(published_at__isnull=True).exists()


def test_redis_stopped_before_publish_then_started_publishes_each_batch_once_in_order(own_redis) -> None:
    order = factories.order()
    rebuild_projections()
    own_redis.stop()
    services.order_transition(order_id=order.id, to="confirmed")  # acknowledged while Redis is down
    services.order_transition(order_id=order.id, to="preparing")
    second = factories.order()
    pending = list(Batch.objects.filter(published_at__isnull=True).values_list("id", flat=True))
    assert len(pending) == 3
    own_redis.start()  # empty, as a restarted Redis that keeps nothing
    relay_once()
    assert not Batch.objects.filter(published_at__isnull=True).exists()
    assert _stream_seqs() == _db_seqs(batch_id__in=pending)
    assert mirror_differences() == []
    assert get_redis().hget(keys.order(second.id), "status") == "placed"
    relay_once()
    assert _stream_seqs() == _db_seqs(batch_id__in=pending)  # a second pass duplicates nothing


def test_redis_killed_between_two_batches(own_redis) -> None:
    order = factories.order()
    rebuild_projections()
    services.order_transition(order_id=order.id, to="confirmed")
    own_redis.kill()
    services.order_transition(order_id=order.id, to="preparing")
    late = Batch.objects.get(published_at__isnull=True)
    own_redis.start()
    relay_once()
    assert _stream_seqs() == _db_seqs(batch_id=late.id)
    assert mirror_differences() == []
    assert get_redis().hget(keys.order(order.id), "status") == "preparing"


def test_mirror_equals_database_after_each_change_and_after_flushall_rebuild(mirror, redis_client) -> None:
    order = factories.order()
    factories.driver()
    for step in ["confirmed", "preparing", "dispatched", "ready", "out_for_delivery", "delivered"]:
        if step == "delivered":
            factories.deliver(order.id)
        else:
            services.order_transition(order_id=order.id, to=step)
        assert mirror_differences() == [], step
    cancelled = factories.order_at("dispatched")
    services.order_transition(order_id=cancelled.id, to="cancelled")
    assert mirror_differences() == []
    redis_client.flushall()
    from django.core.management import call_command

    call_command("rebuild_mirror")
    assert mirror_differences() == []


WORKER = """
import sys, django
django.setup()
from pizzadelivery import services
for order_id in sys.argv[1:]:
    for step in ("confirmed", "preparing", "ready"):
        services.order_transition(order_id=order_id, to=step)
"""


def test_two_processes_dispatching_concurrently_give_one_gapless_order(mirror, redis_client) -> None:
    from tests.conftest import _database_url_for_subprocess

    orders = [factories.order() for _ in range(8)]
    start_seq = last_stream_seq(redis_client)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "pizzadelivery.settings", "REDIS_URL": settings.REDIS_URL,
           "DATABASE_URL": _database_url_for_subprocess(), "PYTHONPATH": str(settings.BASE_DIR)}
    seen: list[int] = []
    stop = threading.Event()

    def consume() -> None:
        reader = get_redis().__class__.from_url(settings.REDIS_URL, decode_responses=True)
        last = f"{start_seq}-0"
        while not stop.is_set() or len(seen) < 48:
            for _stream, entries in reader.xread({stream_key(): last}, block=200) or []:
                for entry_id, _ in entries:
                    seen.append(int(entry_id.split("-")[0]))
                    last = entry_id
            if stop.is_set() and not reader.xread({stream_key(): last}, block=50):
                break

    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, *[str(o.id) for o in half]], env=env,
                                cwd=settings.BASE_DIR)
               for half in (orders[:4], orders[4:])]
    assert [w.wait(timeout=120) for w in workers] == [0, 0]
    stop.set()
    consumer.join(10)
    db = _db_seqs(seq__gt=start_seq)
    assert len(db) == 8 * 3
    assert db == list(range(db[0], db[0] + len(db)))  # one total order, no gaps
    assert seen == db  # the consumer saw every event once, in order
    assert mirror_differences() == []


def test_a_change_behind_a_long_backlog_answers_in_time_and_all_is_published_in_order(own_redis,
                                                                                       settings) -> None:
    order = factories.order()
    rebuild_projections()
    own_redis.stop()
    drivers = [factories.driver() for _ in range(120)]
    for driver in drivers:  # committed while Redis is down: the outbox holds them
        services.driver_set_status(driver_id=driver.id, status="offline")
    assert Batch.objects.filter(published_at__isnull=True).count() >= 120
    own_redis.start()
    started = time.monotonic()
    services.order_transition(order_id=order.id, to="confirmed")  # Redis is back, the backlog is long
    assert time.monotonic() - started < settings.PUBLISH_WAIT_SECONDS + 0.5  # it answers anyway
    relay_once()  # the relay, or this process's publisher meanwhile: either publishes it all
    assert not Batch.objects.filter(published_at__isnull=True).exists()
    assert _stream_seqs() == _db_seqs()[-len(_stream_seqs()):] and len(_stream_seqs()) >= 121
    assert mirror_differences() == []


def test_telemetry_is_answered_at_commit_and_published_by_the_process_publisher(mirror, redis_client) -> None:
    """A position report does not wait for Redis; the process's publisher thread publishes it
    (with whatever else is pending) within a pass."""
    driver = factories.driver()
    services.driver_location_update(driver_id=driver.id, lat=52.5, lng=13.4)
    deadline = time.monotonic() + 5
    while Batch.objects.filter(published_at__isnull=True).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not Batch.objects.filter(published_at__isnull=True).exists()
    assert _stream_seqs() == _db_seqs()
    assert mirror_differences() == []


def test_contention_on_one_batch_still_marks_and_fans_out_the_batches_before_it(own_redis, monkeypatch) -> None:
    from events import publisher

    first, second = factories.order(), factories.order()
    rebuild_projections()
    own_redis.stop()
    services.order_transition(order_id=first.id, to="confirmed")
    services.order_transition(order_id=second.id, to="confirmed")
    first_batch, second_batch = Batch.objects.filter(published_at__isnull=True).order_by("id")
    own_redis.start()
    rebuild_projections()
    fanned_out: list[int] = []
    monkeypatch.setattr(publisher, "_fanouts", [lambda batch: fanned_out.append(batch.id)])
    monkeypatch.setattr(publisher, "FANOUT_MAX_AGE", publisher.FANOUT_MAX_AGE * 1000)
    monkeypatch.setattr(publisher, "MAX_WATCH_RETRIES", 3)
    # Another writer touches the second order's key inside every WATCH window of its batch:
    # each EXEC is refused, as under real contention.
    rival = get_redis().__class__.from_url(own_redis.url)
    wrong_types = publisher._wrong_types

    def contended(client, writes):
        if keys.order(second.id) in writes.key_types:
            rival.hset(keys.order(second.id), "status", "confirmed")
        return wrong_types(client, writes)

    monkeypatch.setattr(publisher, "_wrong_types", contended)
    with pytest.raises(publisher.PublishError, match="contention"):
        publish_pending()
    first_batch.refresh_from_db()
    second_batch.refresh_from_db()
    assert first_batch.published_at is not None and fanned_out == [first_batch.id]
    assert second_batch.published_at is None and second_batch.publish_attempts == 1
    monkeypatch.setattr(publisher, "_wrong_types", wrong_types)  # the rival is gone
    assert publish_pending() == 1
    assert fanned_out == [first_batch.id, second_batch.id]
    assert _stream_seqs() == _db_seqs(batch_id__in=[first_batch.id, second_batch.id])
    assert mirror_differences() == []


# --- the mirror belongs to one database -------------------------------------------------------

def test_a_redis_left_from_another_database_is_rebuilt_not_skipped(own_redis) -> None:
    from django.core.management import call_command

    for _ in range(3):
        factories.order_at("confirmed")
    rebuild_projections()
    # The product now points at a new, empty database; Redis still holds the old projection.
    call_command("flush", interactive=False, verbosity=0)
    fresh = factories.order()  # its event numbers start again at 1, below the stream's last
    assert get_redis().hget(keys.order(fresh.id), "status") is None  # never published onto it
    relay_once()
    assert get_redis().hget(keys.order(fresh.id), "status") == "placed"
    assert mirror_differences() == []
    assert _stream_seqs() == _db_seqs()  # the old database's events are gone from the stream


def test_a_database_restored_behind_redis_is_rebuilt_not_skipped(own_redis) -> None:
    from events.models import Sequence

    order = factories.order()
    rebuild_projections()
    services.order_transition(order_id=order.id, to="confirmed")
    # Restore the backup taken before the confirmation: the database forgets the last batch.
    last = Batch.objects.latest("id")
    last_id, first_seq = last.id, last.events.order_by("seq").first().seq
    Event.objects.filter(batch=last).delete()
    last.delete()
    Sequence.objects.filter(pk="events").update(last_batch=last_id - 1, last_event=first_seq - 1)
    from pizzadelivery.models import Order
    Order.objects.filter(pk=order.id).update(status="placed", kitchen_status="placed", confirmed_at=None)
    # The next change gets the numbers Redis already holds for another event.
    services.order_transition(order_id=order.id, to="cancelled", reason="changed my mind")
    assert get_redis().hget(keys.order(order.id), "status") != "cancelled"  # refused, not skipped
    relay_once()
    assert get_redis().hget(keys.order(order.id), "status") == "cancelled"
    assert mirror_differences() == []
    assert _stream_seqs()[-1] == _db_seqs()[-1]
    entry = get_redis().xrange(stream_key(), f"{_db_seqs()[-1]}-0", "+")[0][1]
    assert entry["type"] == "order.cancelled"


def test_batches_a_promoted_replica_never_received_are_published_again(own_redis) -> None:
    """A replica promoted before the last batch reached it: the database says published, the
    new primary lacks it. The relay sends it again, once."""
    from events.publisher import source_key

    client = get_redis()
    order = factories.order()
    rebuild_projections()
    services.order_transition(order_id=order.id, to="confirmed")
    replica = {"stream": client.xrange(stream_key()), "source": client.hgetall(source_key()),
               "order": client.hgetall(keys.order(order.id)),
               "confirmed": client.zrange(keys.orders_with_status("confirmed"), 0, -1, withscores=True)}
    services.order_transition(order_id=order.id, to="preparing")
    lost = Batch.objects.latest("id")
    # The new primary: what the replica had, nothing of the last batch.
    client.delete(stream_key(), source_key(), keys.order(order.id), keys.orders_with_status("preparing"))
    for entry_id, fields in replica["stream"]:
        client.xadd(stream_key(), fields, id=entry_id)
    client.hset(source_key(), mapping=replica["source"])
    client.hset(keys.order(order.id), mapping=replica["order"])
    client.zadd(keys.orders_with_status("confirmed"), dict(replica["confirmed"]))
    assert Batch.objects.get(pk=lost.id).published_at is not None
    assert mirror_differences() != []
    relay_once()
    assert _stream_seqs() == _db_seqs()  # the lost batch is back, once
    assert client.hget(keys.order(order.id), "status") == "preparing"
    assert mirror_differences() == []
