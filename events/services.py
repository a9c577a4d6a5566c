"""The batch API for services: open a batch, add events in order, commit with the change.

    with events.services.batch() as batch:
        order = Order.objects.select_for_update().get(pk=order_id)
        ...                                        # change rows
        batch.add("order.confirmed", order_id=order.id, payload={...})

The batch is the transaction (``atomic(durable=True)``): the state change and the outbox rows
commit together or not at all; if it fails, the transaction is rolled back and a
``batch.rolled_back`` event records the failure. After commit the batch is handed to the
process's publisher thread (``events.handoff``): a lifecycle change waits until it is
published to Redis, telemetry (position reports only) does not.
"""
from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.db import DatabaseError, connection, transaction
from django.db.models import Max, Model
from django.utils import timezone

from events import registry
from events.models import Batch, Event, Sequence
from pizzadelivery.infra.errors import DomainError

logger = logging.getLogger(__name__)

CORRELATION_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}$")
_correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)


def new_correlation_id() -> str:
    return uuid.uuid4().hex


def valid_correlation_id(value: str | None) -> bool:
    return bool(value) and CORRELATION_ID_RE.match(value) is not None


def current_correlation_id() -> str | None:
    return _correlation_id.get()


@contextmanager
def correlation_scope(correlation_id: str) -> Iterator[str]:
    token = _correlation_id.set(correlation_id)
    try:
        yield correlation_id
    finally:
        _correlation_id.reset(token)


@dataclass
class PendingEvent:
    type: str
    payload: dict[str, Any]
    order_id: Any = None
    driver_id: int | None = None


@dataclass
class BatchBuilder:
    correlation_id: str
    events: list[PendingEvent] = field(default_factory=list)

    def add(self, type: str, *, order_id: Any = None, driver_id: int | None = None,
            payload: dict[str, Any] | None = None) -> None:
        payload = dict(payload or {})
        registry.validate(type, payload, order_id=order_id, driver_id=driver_id)
        self.events.append(PendingEvent(type, payload, order_id, driver_id))

    @property
    def types(self) -> list[str]:
        return [event.type for event in self.events]


@contextmanager
def batch(*, correlation_id: str | None = None, answer_at_commit: bool = False) -> Iterator[BatchBuilder]:
    """``answer_at_commit``: the caller does not wait for the batch's publish (a position report,
    with the ETA it moves: the driver's phone needs no read-your-writes; the pushes follow).
    A batch of telemetry only is answered at commit anyway."""
    builder = BatchBuilder(correlation_id or current_correlation_id() or new_correlation_id())
    try:
        with transaction.atomic(durable=True):
            yield builder
            if builder.events:
                stored = _store(builder, kind=Batch.Kind.CHANGE)
                transaction.on_commit(partial(_publish_after_commit, stored.id,
                                              wait=not (answer_at_commit or registry.all_telemetry(builder.types))))
    except Exception as exc:
        # A refusal raised before any event was added leaves no trace, not even a rollback
        # event: nothing was attempted.
        if not (isinstance(exc, DomainError) and not builder.events):
            _record_rollback(builder, exc)
        raise


def _store(builder: BatchBuilder, *, kind: str) -> Batch:
    # The sequence row is locked by the UPDATE that takes the numbers, and held to commit:
    # batches commit in sequence order.
    count = len(builder.events)
    table = connection.ops.quote_name(Sequence._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET last_batch = last_batch + 1, last_event = last_event + %s "
                       "WHERE name = %s RETURNING last_batch, last_event", [count, "events"])
        row = cursor.fetchone()
    if row is None:  # made by a migration; only a flushed test database lacks it
        Sequence.objects.create(
            pk="events",
            last_batch=(Batch.objects.aggregate(m=Max("id"))["m"] or 0) + 1,
            last_event=(Event.objects.aggregate(m=Max("seq"))["m"] or 0) + count,
        )
        row = Sequence.objects.filter(pk="events").values_list("last_batch", "last_event").get()
    batch_id, last_event = row
    first_seq = last_event - count + 1
    now = timezone.now()
    stored = Batch(id=batch_id, correlation_id=builder.correlation_id, kind=kind, created_at=now)
    # Plain INSERTs with each field's own conversion: the ORM's query compiler is most of a
    # small batch's cost, and these two statements are the same every time.
    insert_rows(Batch, ["id", "correlation_id", "kind", "created_at", "published_at", "publish_attempts",
                        "last_error"],
                [[batch_id, builder.correlation_id, kind, now, None, 0, ""]])
    insert_rows(Event, ["seq", "id", "batch", "type", "correlation_id", "order_id", "driver_id", "payload",
                        "occurred_at"],
                [[first_seq + index, uuid.uuid4(), batch_id, pending.type, builder.correlation_id,
                  pending.order_id, pending.driver_id, pending.payload, now]
                 for index, pending in enumerate(builder.events)])
    return stored


def insert_rows(model: type[Model], names: list[str], rows: list[list[Any]]) -> None:
    """``INSERT INTO <model's table> (names) VALUES ...``, each value prepared by its field
    (``get_db_prep_save``: UUIDs, JSON and datetimes as this database wants them)."""
    fields = [model._meta.get_field(name) for name in names]
    table = connection.ops.quote_name(model._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    placeholders = "(" + ", ".join(["%s"] * len(fields)) + ")"
    params = [f.get_db_prep_save(value, connection) for row in rows for f, value in zip(fields, row)]
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({columns}) VALUES {', '.join([placeholders] * len(rows))}", params)


def _record_rollback(failed: BatchBuilder, exc: BaseException) -> None:
    reason = f"{type(exc).__name__}: {exc}"[:500]
    record = BatchBuilder(failed.correlation_id)
    record.add("batch.rolled_back", payload={"reason": reason, "attempted": failed.types})
    try:
        with transaction.atomic():
            stored = _store(record, kind=Batch.Kind.ROLLBACK)
            transaction.on_commit(partial(_publish_after_commit, stored.id, wait=True))
    except DatabaseError:
        logger.exception("could not record the rollback of batch %s", failed.correlation_id)


def _publish_after_commit(batch_id: int, *, wait: bool) -> None:
    from events.handoff import publisher_thread

    publisher_thread.hand_over(batch_id, wait=wait)
