"""Property: whatever step of whatever batch a fault hits, no batch is ever partial in the
database, the stream or the mirror, and after recovery every committed event is published
exactly once, in order."""
from __future__ import annotations

from collections import Counter

import pytest
from django.db import DatabaseError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.models import Batch, Event
from events.publisher import rebuild_projections, stream_key
from events.relay import relay_once
from events.services import batch
from pizzadelivery.infra.redis import get_redis
from pizzadelivery.models import Customer, Driver
from tests import factories
from tests.mirror_check import mirror_differences

pytestmark = pytest.mark.django_db(transaction=True)

FAULTS = ["none", "raise", "database_error", "redis_down", "crash_after_exec"]

batches = st.lists(
    st.tuples(st.integers(min_value=1, max_value=4),  # events in the batch
              st.sampled_from(FAULTS),
              st.integers(min_value=0, max_value=3)),  # the step the fault hits
    min_size=1, max_size=6)


class Boom(Exception):
    pass


def _run_batch(drivers: list[Driver], size: int, fault: str, step: int, marker_driver: int) -> bool:
    """One batch that flips ``size`` drivers' status; returns whether it committed."""
    step = min(step, size - 1)
    try:
        with batch() as events:
            Customer.objects.create(name=f"batch of {size}", phone="12345")
            for index in range(size):
                driver = Driver.objects.select_for_update().get(pk=drivers[index].pk)
                previous = driver.status
                driver.status = "offline" if previous == "available" else "available"
                driver.save(update_fields=["status"])
                target = marker_driver if fault == "database_error" and index == step else driver.id
                events.add("driver.status_changed", driver_id=target,
                           payload={"status": driver.status, "previous_status": previous})
                if fault == "raise" and index == step:
                    raise Boom(f"fault at step {step}")
    except (Boom, DatabaseError):
        return False
    return True


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=batches)
def test_faults_at_any_step_never_leave_a_partial_batch(plan, own_redis, failing_event_insert) -> None:
    Event.objects.all().delete()
    Batch.objects.all().delete()
    Customer.objects.all().delete()
    Driver.objects.all().delete()
    if not own_redis.ping():
        own_redis.start()
    get_redis().flushdb()
    drivers = [factories.driver() for _ in range(4)]
    rebuild_projections()
    expected_sizes: list[int] = []
    for size, fault, step in plan:
        if fault == "redis_down":
            own_redis.stop()
        committed = _run_batch(drivers, size, fault, step, failing_event_insert)
        assert committed == (fault not in ("raise", "database_error"))
        if committed:
            expected_sizes.append(size)
        if fault == "crash_after_exec":
            # Died after EXEC, before marking: the outbox still says unpublished.
            Batch.objects.filter(pk=Batch.objects.latest("id").pk).update(published_at=None)
        if fault == "redis_down":
            own_redis.start()
    relay_once()

    change_batches = Batch.objects.filter(kind="change", events__type="driver.status_changed").distinct()
    sizes = [b.events.count() for b in change_batches.order_by("id")]
    assert sizes == expected_sizes  # every stored batch is whole
    assert Customer.objects.count() == len(expected_sizes)  # and so is the change it carried
    failures = sum(1 for _s, fault, _st in plan if fault in ("raise", "database_error"))
    assert Event.objects.filter(type="batch.rolled_back").count() == failures
    assert not Batch.objects.filter(published_at__isnull=True).exists()

    entries = get_redis().xrange(stream_key())
    stream_seqs = [int(entry_id.split("-")[0]) for entry_id, _ in entries]
    assert stream_seqs == sorted(set(stream_seqs))  # in order, none twice
    # Redis restarts empty, so the stream holds what was published since the last restart:
    # a suffix of the database's events, whole batches only.
    db_seqs = list(Event.objects.order_by("seq").values_list("seq", flat=True))
    assert stream_seqs == db_seqs[len(db_seqs) - len(stream_seqs):]
    per_batch = Counter(fields["batch"] for _id, fields in entries)
    for batch_id, count in per_batch.items():
        assert Event.objects.filter(batch_id=int(batch_id)).count() == count
    assert mirror_differences() == []
