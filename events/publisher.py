"""Publish committed batches to Redis: in sequence order, consecutive batches grouped into one
MULTI/EXEC (a batch is never split across two).

Inside the one transaction go the stream entries (ids ``<seq>-0``, so a replay cannot add
an event twice) and every registered projection's writes (the Redis mirror), computed once
for the whole group: a projection rewrites what the group touched from the rows as they are
now, so ten position reports of one driver cost one document, not ten. MULTI/EXEC does
not roll back a command that fails at EXEC time, so nothing is left that could fail there:
the stream is WATCHed and its last id checked first (a batch already published is skipped,
never re-added), and every key a projection writes has its type checked first, a key of
the wrong type being deleted inside the same transaction before it is written. Errors found
while queueing (OOM, syntax) make Redis discard the whole transaction.

After EXEC, fan-out handlers (live pages) run once per group, in the process that applied
it: a page gets the latest state of what the group changed, rendered once.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import redis
from django.conf import settings
from django.db import DatabaseError, IntegrityError
from django.db.models import F, Max
from django.utils import timezone

from events.models import Batch, Event, Sequence
from pizzadelivery.infra.redis import breaker, get_redis, key

logger = logging.getLogger(__name__)

MAX_WATCH_RETRIES = 50
# One MULTI/EXEC takes whole batches up to about this many events (a bigger batch goes alone).
GROUP_MAX_EVENTS = 500
# A batch published later than this after it happened (a backlog drained after a Redis
# outage) is not pushed to live pages: they resync over HTTP when their socket comes back,
# and rendering stale fragments would only slow the drain down.
FANOUT_MAX_AGE = timedelta(seconds=10)


class PublishError(Exception):
    """Redis (or the database) could not take the batch now; it stays in the outbox."""


class Contention(PublishError):
    """Other writers kept changing the watched keys: the batch waits for the next pass."""


class ContendedGroup(Exception):
    """A group of several batches met contention: it is tried again one batch at a time."""


class MirrorMismatch(PublishError):
    """Redis holds the projection of another database, or one ahead of this database: nothing
    is published onto it (it would be skipped as already there) until the relay rebuilds it."""


@dataclass(frozen=True)
class DatabasePosition:
    """Which database this is and how far its outbox goes (batch and event numbers)."""

    database: str
    last_batch: int
    last_event: int


def database_position() -> DatabasePosition:
    sequence = Sequence.objects.filter(pk="events").first()
    if sequence is None:  # made by a migration; only a flushed test database lacks it
        try:
            sequence, _ = Sequence.objects.get_or_create(pk="events", defaults={
                "last_batch": Batch.objects.aggregate(m=Max("id"))["m"] or 0,
                "last_event": Event.objects.aggregate(m=Max("seq"))["m"] or 0})
        except IntegrityError:
            sequence = Sequence.objects.get(pk="events")
    return DatabasePosition(str(sequence.database_id), sequence.last_batch, sequence.last_event)


@dataclass(frozen=True)
class PublishedEvent:
    seq: int
    id: str
    type: str
    correlation_id: str
    order_id: str | None
    driver_id: int | None
    payload: dict[str, Any]
    occurred_at: datetime

    @classmethod
    def from_model(cls, event: Event) -> "PublishedEvent":
        return cls(event.seq, str(event.id), event.type, event.correlation_id,
                   str(event.order_id) if event.order_id else None, event.driver_id,
                   event.payload, event.occurred_at)

    def as_stream_fields(self, batch_id: int) -> dict[str, str]:
        return {
            "seq": str(self.seq), "id": self.id, "type": self.type, "batch": str(batch_id),
            "correlation_id": self.correlation_id, "order_id": self.order_id or "",
            "driver_id": "" if self.driver_id is None else str(self.driver_id),
            "payload": json.dumps(self.payload, separators=(",", ":")),
            "occurred_at": self.occurred_at.isoformat(),
        }


@dataclass(frozen=True)
class PublishedBatch:
    id: int
    correlation_id: str
    kind: str
    events: tuple[PublishedEvent, ...]

    @property
    def last_seq(self) -> int:
        return self.events[-1].seq

    def order_ids(self) -> list[str]:
        return list(dict.fromkeys(e.order_id for e in self.events if e.order_id))

    def driver_ids(self) -> list[int]:
        return list(dict.fromkeys(e.driver_id for e in self.events if e.driver_id is not None))

    @classmethod
    def merged(cls, batches: list[PublishedBatch]) -> PublishedBatch:
        """Consecutive batches as one (for projections and fan-outs, which look at what was
        touched and the last sequence number): the last batch's id and correlation id."""
        if len(batches) == 1:
            return batches[0]
        last = batches[-1]
        return cls(last.id, last.correlation_id, last.kind, tuple(e for b in batches for e in b.events))


class RedisWrites:
    """Writes a projection wants applied, recorded with the type each key must have."""

    def __init__(self) -> None:
        self.ops: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self.key_types: dict[str, str] = {}

    def _op(self, name: str, key_name: str, key_type: str | None, *args: Any, **kwargs: Any) -> None:
        if key_type is not None:
            self.key_types.setdefault(key_name, key_type)
        self.ops.append((name, (key_name, *args), kwargs))

    def hset(self, key_name: str, mapping: dict[str, Any]) -> None:
        self._op("hset", key_name, "hash", mapping=mapping)

    def set(self, key_name: str, value: str, ex: int | None = None) -> None:
        self._op("set", key_name, "string", value, ex=ex)

    def delete(self, key_name: str) -> None:
        self._op("delete", key_name, None)

    def zadd(self, key_name: str, mapping: dict[str, float]) -> None:
        self._op("zadd", key_name, "zset", mapping)

    def zrem(self, key_name: str, *members: str) -> None:
        self._op("zrem", key_name, "zset", *members)

    def sadd(self, key_name: str, *members: str) -> None:
        self._op("sadd", key_name, "set", *members)

    def srem(self, key_name: str, *members: str) -> None:
        self._op("srem", key_name, "set", *members)

    def geoadd(self, key_name: str, lng: float, lat: float, member: str) -> None:
        self._op("geoadd", key_name, "zset", (lng, lat, member))

    def apply(self, pipe: redis.client.Pipeline, wrong_type_keys: set[str]) -> None:
        for key_name in wrong_type_keys:
            pipe.delete(key_name)
        for name, args, kwargs in self.ops:
            getattr(pipe, name)(*args, **kwargs)


Projection = Callable[[PublishedBatch, RedisWrites], None]
Rebuild = Callable[[RedisWrites], None]
Fanout = Callable[[PublishedBatch], None]



@dataclass(frozen=True)
class _Registered:
    project: Projection
    rebuild: Rebuild
    prefix: Callable[[], str]
    ready_key: Callable[[], str]


_projections: list[_Registered] = []
_fanouts: list[Fanout] = []


def register_projection(project: Projection, *, rebuild: Rebuild, prefix: Callable[[], str],
                        ready_key: Callable[[], str]) -> None:
    """A projection keeps part of Redis in step with the database (the marketplace's mirror):
    ``project`` adds its writes to each batch's transaction, ``rebuild`` recreates all of it
    from the database. ``prefix()`` names the keys it owns (deleted before a rebuild) and
    ``ready_key()`` the flag a rebuild sets: until then, readers use the database."""
    if all(registered.project is not project for registered in _projections):
        _projections.append(_Registered(project, rebuild, prefix, ready_key))


def register_fanout(fanout: Fanout) -> None:
    if fanout not in _fanouts:
        _fanouts.append(fanout)


def stream_key() -> str:
    return key("events")


def source_key() -> str:
    """Hash: ``database`` (the identity of the database the projection mirrors) and ``batch``
    (the last batch applied), written in the same MULTI/EXEC as each batch."""
    return key("events", "source")


def _stream_event_id(client: redis.Redis | redis.client.Pipeline, seq: int) -> str | None:
    """The id of the stream's event number ``seq`` (None when not there, or trimmed)."""
    entries = client.xrange(stream_key(), f"{seq}-0", f"{seq}-0")
    return entries[0][1].get("id") if entries else None


def _mismatch(source_database: str | None, source_batch: int, stream_last: int,
              position: DatabasePosition) -> str | None:
    if source_database and source_database != position.database:
        return f"Redis mirrors another database ({source_database}, this is {position.database})"
    if stream_last > position.last_event or source_batch > position.last_batch:
        return (f"Redis is ahead of the database (event {stream_last}, batch {source_batch}; the database "
                f"ends at event {position.last_event}, batch {position.last_batch})")
    return None


def last_stream_seq(client: redis.Redis | redis.client.Pipeline) -> int:
    try:
        info = client.xinfo_stream(stream_key())
    except redis.ResponseError:  # no such key: nothing published since Redis started empty
        return 0
    return int(str(info["last-generated-id"]).split("-")[0])


def _wrong_types(client: redis.Redis, writes: RedisWrites) -> set[str]:
    if not writes.key_types:
        return set()
    names = list(writes.key_types)
    with client.pipeline(transaction=False) as reader:
        for name in names:
            reader.type(name)
        found = reader.execute()
    return {name for name, kind in zip(names, found) if kind not in ("none", writes.key_types[name])}


def _watched_transaction(client: redis.Redis, extra_watch: list[str],
                         build: Callable[[redis.client.Pipeline], bool]) -> bool:
    """Run ``build`` under WATCH of the stream and queue its writes in one MULTI/EXEC.

    ``build`` returns False when there is nothing to do. Retried while another writer
    touches the watched keys between our checks and EXEC."""
    for _ in range(MAX_WATCH_RETRIES):
        with client.pipeline(transaction=True) as pipe:
            try:
                pipe.watch(stream_key(), *extra_watch)
                if not build(pipe):
                    return False
                pipe.execute()
                return True
            except redis.WatchError:
                continue
    raise Contention("too much contention on the event stream")


def _publish_group(client: redis.Redis, group: list[PublishedBatch],
                   position: DatabasePosition) -> list[PublishedBatch]:
    """Apply consecutive batches in one MULTI/EXEC; returns those it applied (a batch found
    already in the stream, published by another process meanwhile, is skipped)."""
    writes = RedisWrites()
    touched = PublishedBatch.merged(group)
    for registered in _projections:
        registered.project(touched, writes)
    applied: list[PublishedBatch] = []

    def build(pipe: redis.client.Pipeline) -> bool:
        stream_last = last_stream_seq(pipe)
        source_database, source_batch = pipe.hmget(source_key(), "database", "batch")
        if _mismatch(source_database, int(source_batch or 0), stream_last, position):
            # Maybe only another process's batch, committed after we read the position.
            problem = _mismatch(source_database, int(source_batch or 0), stream_last, database_position())
            if problem:
                raise MirrorMismatch(problem)
        todo = [published for published in group if published.last_seq > stream_last]
        done_before = [published for published in group if published.last_seq <= stream_last]
        if done_before:
            # Already in the stream: a replay adds nothing. Unless the stream's entry of that
            # number is another event: a history this database does not have (a restored backup).
            last = done_before[-1]
            if _stream_event_id(pipe, last.last_seq) not in (None, last.events[-1].id):
                raise MirrorMismatch(f"the stream's event {last.last_seq} is not this database's")
        if not todo:
            return False
        wrong = _wrong_types(client, writes)
        pipe.multi()
        for published in todo:
            for event in published.events:
                pipe.xadd(stream_key(), event.as_stream_fields(published.id), id=f"{event.seq}-0",
                          maxlen=settings.EVENT_STREAM_MAXLEN, approximate=True)
        writes.apply(pipe, wrong)
        pipe.hset(source_key(), mapping={"database": position.database, "batch": todo[-1].id})
        applied[:] = todo
        return True

    try:
        if not _watched_transaction(client, [source_key(), *writes.key_types], build):
            return []
    except Contention:
        if len(group) > 1:
            raise ContendedGroup() from None
        raise
    return applied


def _groups(batches: list[PublishedBatch]) -> list[list[PublishedBatch]]:
    groups: list[list[PublishedBatch]] = []
    size = 0
    for published in batches:
        if groups and size + len(published.events) <= GROUP_MAX_EVENTS:
            groups[-1].append(published)
            size += len(published.events)
        else:
            groups.append([published])
            size = len(published.events)
    return groups


def load_batches(batches: list[Batch]) -> list[PublishedBatch]:
    by_batch: dict[int, list[PublishedEvent]] = {b.id: [] for b in batches}
    for event in Event.objects.filter(batch_id__in=list(by_batch)).order_by("seq"):
        by_batch[event.batch_id].append(PublishedEvent.from_model(event))
    return [PublishedBatch(b.id, b.correlation_id, b.kind, tuple(by_batch[b.id]))
            for b in batches if by_batch[b.id]]


def publish_pending(*, up_to: int | None = None, limit: int = 500, backlog_limit: int | None = None) -> int:
    """Publish unpublished batches in order; returns how many this call applied.

    Stops at the first failure so that a later batch never overtakes an earlier one. With
    ``backlog_limit``, a call that finds more batches waiting than that publishes nothing: a
    request does not drain a backlog (after a Redis outage) in its own time; the relay does."""
    client = get_redis()
    try:
        pending = Batch.objects.filter(published_at__isnull=True).order_by("id")
        if up_to is not None:
            pending = pending.filter(id__lte=up_to)
        waiting = list(pending[:limit if backlog_limit is None else backlog_limit + 1])
        if backlog_limit is not None and len(waiting) > backlog_limit:
            return 0
        batches = load_batches(waiting)
        position = database_position() if batches else None
    except DatabaseError as exc:
        raise PublishError(f"database: {exc}") from exc
    done: list[PublishedBatch] = []
    applied: list[list[PublishedBatch]] = []
    failure: PublishError | None = None
    groups = _groups(batches)
    while groups:
        group = groups.pop(0)
        try:
            applied.append(_publish_group(client, group, position))
        except ContendedGroup:
            # Under contention a group goes one batch at a time: the batches before the
            # contended one still get through.
            groups[:0] = [[published] for published in group]
            continue
        except (redis.RedisError, OSError) as exc:
            failure = PublishError(f"redis: {exc}")
            break
        except MirrorMismatch as exc:
            # Readers must not trust that projection either: they use the database until the
            # relay has rebuilt it.
            logger.warning("%s: batch %s waits for the relay to rebuild the mirror", exc, group[0].id)
            withdraw_projections(client)
            failure = exc
            break
        except PublishError as exc:  # contention: the batches before it still get marked
            failure = exc
            break
        done.extend(group)
    now = timezone.now()
    # Live pages first: the marking below is a database write, and on SQLite it may queue
    # behind other writers; the pushes need not wait for it. One fan-out per group: a page
    # gets the group's latest state once.
    for group in applied:
        fresh = [published for published in group if now - published.events[-1].occurred_at <= FANOUT_MAX_AGE]
        if fresh:
            _fan_out(PublishedBatch.merged(fresh))
    try:
        # One write for the whole pass: on SQLite every write queues for the one write lock.
        # A crash before it only means the next pass finds these in the stream and skips them.
        if done:
            Batch.objects.filter(pk__in=[b.id for b in done], published_at__isnull=True).update(published_at=now)
        if failure is not None:
            Batch.objects.filter(pk=batches[len(done)].id).update(
                publish_attempts=F("publish_attempts") + 1, last_error=str(failure)[:500])
    except DatabaseError as exc:
        raise PublishError(f"database: {exc}") from exc
    if failure is not None:
        raise failure
    return sum(len(group) for group in applied)


def _fan_out(published: PublishedBatch) -> None:
    for fanout in _fanouts:
        try:
            fanout(published)
        except Exception:  # a live page missing a push resyncs; the batch is published
            logger.exception("fan-out %s failed for batch %s", getattr(fanout, "__name__", fanout),
                             published.id)


def withdraw_projections(client: redis.Redis) -> None:
    """Unmark every projection ready (readers then use the database); never raises."""
    try:
        client.delete(*[registered.ready_key() for registered in _projections])
    except (redis.RedisError, OSError):
        pass


def mirror_problem(client: redis.Redis | None = None) -> str | None:
    """Why the projection in Redis cannot be trusted for this database (None when it can).

    Checks its identity and position. A projection that lost its last batches (a replica
    promoted before it received them) is repaired here instead: those batches go back to the
    outbox, and the relay publishes them again, once each (the stream is checked first)."""
    client = client or get_redis()
    # Redis first, then the database: a batch another process publishes in between can then
    # only make the database look further ahead, never Redis.
    source_database, source_batch = client.hmget(source_key(), "database", "batch")
    stream_last = last_stream_seq(client)
    position = database_position()
    last_published = (Batch.objects.filter(published_at__isnull=False).order_by("-id")
                      .values_list("id", flat=True).first()) or 0
    problem = _mismatch(source_database, int(source_batch or 0), stream_last, position)
    if problem is None and stream_last:
        ours = Event.objects.filter(seq=stream_last).values_list("id", flat=True).first()
        if ours is not None and str(ours) != _stream_event_id(client, stream_last):
            problem = f"the stream's event {stream_last} is not this database's (a restored backup?)"
    if problem is None and source_database and int(source_batch or 0) < last_published:
        # Read again: a batch another process applied and marked since the first read is not lost.
        source_batch = client.hget(source_key(), "batch")
    if problem is None and source_database and int(source_batch or 0) < last_published:
        lost = Batch.objects.filter(id__gt=int(source_batch or 0), published_at__isnull=False).update(
            published_at=None)
        logger.warning("Redis lacks the last %d published batch(es) (after batch %s): publishing them again",
                       lost, source_batch)
    return problem


def projections_ready(client: redis.Redis | None = None) -> bool:
    """Whether every projection was rebuilt since Redis last started empty."""
    if not _projections:
        return True
    ready_keys = [registered.ready_key() for registered in _projections]
    return (client or get_redis()).exists(*ready_keys) == len(ready_keys)


def rebuild_projections(*, reset_stream: bool = False) -> None:
    """Recreate every projection's keys from the database, atomically with respect to
    publishing (the stream is watched: a batch published meanwhile makes us start over), and
    record which database they mirror and up to which batch. ``reset_stream`` also drops the
    event stream (it belongs to another database, or runs ahead of this one)."""
    breaker.probe_now()  # a rebuild is background work (the relay, rebuild_mirror): it asks at once
    client = get_redis()

    def build(pipe: redis.client.Pipeline) -> bool:
        position = database_position()
        last_published = (Batch.objects.filter(published_at__isnull=False).order_by("-id")
                          .values_list("id", flat=True).first()) or 0
        writes = RedisWrites()
        for registered in _projections:
            registered.rebuild(writes)
        stale = [name for registered in _projections
                 for name in client.scan_iter(match=f"{registered.prefix()}*", count=1000)]
        pipe.multi()
        for name in stale:
            pipe.delete(name)
        if reset_stream:
            pipe.delete(stream_key())
        writes.apply(pipe, set())
        pipe.delete(source_key())
        pipe.hset(source_key(), mapping={"database": position.database, "batch": last_published})
        for registered in _projections:
            pipe.set(registered.ready_key(), timezone.now().isoformat())
        return True

    _watched_transaction(client, [source_key()], build)
