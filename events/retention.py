"""Retention: telemetry older than ``EVENT_RETENTION_DAYS`` is compacted; lifecycle is kept.

Position reports are most of what the outbox stores (2,000 drivers reporting every 5 s write
34.6 million a day) and each is superseded by the next. Past the retention period:

- a report that belongs to no order (a driver idle or between jobs) is deleted;
- of an order's reports, the latest ``TRACKER_ROUTE_POINTS`` are kept (exactly what the
  tracker's route draws, ``tracking.selectors.travelled_path``) and the older ones deleted;
- a batch left with no event is deleted.

Lifecycle events, unpublished batches and events another table still points to (a webhook
delivery not yet purged) are never touched. Sequence numbers are not reused: a reader that
follows ``seq`` sees a gap, never a renumbering. Run by the relay (``prune_task``) and by
``manage.py prune_events``; several at once are safe (deletes of the same rows are idempotent).
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import models, transaction
from django.db.models import Exists, F, OuterRef, QuerySet
from django.db.models.functions import RowNumber
from django.utils import timezone

from events import registry
from events.models import Batch, Event, Sequence

logger = logging.getLogger(__name__)

# Rows deleted per statement (and transaction): short transactions, no long lock on the table.
CHUNK = 5_000
# Orders compacted per ranking query.
ORDER_CHUNK = 200
# Sequence numbers looked at per step.
WINDOW = 50_000

# Other apps purge their own rows that point at events (e.g. old webhook deliveries) before the
# events go: each is called with the cutoff.
_purgers: list[Callable[[datetime], int]] = []


def register_purger(purge: Callable[[datetime], int]) -> None:
    if purge not in _purgers:
        _purgers.append(purge)


@dataclass
class Pruned:
    events: int = 0
    batches: int = 0
    complete: bool = True  # False: stopped at ``limit``; more is left for the next run


def _prunable(cutoff: datetime) -> QuerySet[Event]:
    events = Event.objects.filter(type__in=registry.telemetry_types(), occurred_at__lt=cutoff,
                                  batch__published_at__isnull=False)
    for relation in Event._meta.get_fields(include_hidden=True):  # rows another table points to stay
        if relation.auto_created and not relation.concrete and getattr(relation, "on_delete", None) is models.PROTECT:
            column = relation.field.attname
            referenced = relation.related_model._base_manager.filter(**{f"{column}__isnull": False})
            events = events.exclude(seq__in=referenced.values(column))
    return events


def _delete(seqs: list[int]) -> int:
    deleted = 0
    for start in range(0, len(seqs), CHUNK):
        with transaction.atomic():
            deleted += Event.objects.filter(seq__in=seqs[start:start + CHUNK]).delete()[0]
    return deleted


def _last_seq_before(cutoff: datetime) -> int:
    """The number of the last event that happened before ``cutoff``: events are numbered in
    commit order and their times follow it, so a binary search over the primary key finds it
    (about 25 lookups for a billion events; no index on time is needed)."""
    newest = Event.objects.order_by("-seq").values_list("seq", "occurred_at").first()
    if newest is None:
        return 0
    if newest[1] < cutoff:
        return newest[0]
    low = (Event.objects.order_by("seq").values_list("seq", flat=True).first() or 1) - 1  # before cutoff
    high = newest[0]  # at or after cutoff
    while high - low > 1:
        middle = (low + high) // 2
        found = Event.objects.filter(seq__gte=middle).order_by("seq").values_list("seq", "occurred_at").first()
        if found is None or found[1] >= cutoff or found[0] >= high:
            high = middle
        else:
            low = found[0]
    return low


def _watermark_key() -> str:
    """Per database (a Redis may outlive a database, or serve another one)."""
    database = Sequence.objects.filter(pk="events").values_list("database_id", flat=True).first()
    return f"events:retention:done-below:{database}"


def prune_events(*, days: float | None = None, now: datetime | None = None,
                 limit: int | None = None) -> Pruned:
    """Compact telemetry older than ``days`` (default ``EVENT_RETENTION_DAYS``); stop after
    about ``limit`` deleted events (the relay's passes stay short).

    The old events are walked in windows of ``WINDOW`` sequence numbers (primary key ranges,
    the ``(type, seq)`` index within them); a finished window is remembered in the cache, so
    the next run starts after it (a lost cache only means looking at the kept rows again)."""
    days = settings.EVENT_RETENTION_DAYS if days is None else days
    cutoff = (now or timezone.now()) - timedelta(days=days)
    keep = settings.TRACKER_ROUTE_POINTS
    result = Pruned()

    for purge in _purgers:
        purge(cutoff)

    last = _last_seq_before(cutoff)
    done_below = cache.get(_watermark_key()) or 0
    start = max(done_below, Event.objects.filter(type__in=registry.telemetry_types(), seq__gte=done_below)
                .order_by("seq").values_list("seq", flat=True).first() or last + 1)
    while start <= last:
        if limit is not None and result.events >= limit:
            result.complete = False
            break
        end = min(start + WINDOW, last + 1)
        window = _prunable(cutoff).filter(seq__gte=start, seq__lt=end)
        # Reports of no order: nothing draws them.
        result.events += _delete(list(window.filter(order_id__isnull=True).values_list("seq", flat=True)))
        # An order's reports beyond the latest ``keep``, ranked among all of its reports.
        orders = sorted(set(window.filter(order_id__isnull=False).values_list("order_id", flat=True)))
        for first in range(0, len(orders), ORDER_CHUNK):
            chunk = orders[first:first + ORDER_CHUNK]
            ranked = (Event.objects.filter(order_id__in=chunk, type__in=registry.telemetry_types())
                      .annotate(rank=models.Window(RowNumber(), partition_by=[F("order_id")],
                                                   order_by=F("seq").desc()))
                      .filter(rank__gt=keep))
            old = set(window.filter(order_id__in=chunk).values_list("seq", flat=True))
            result.events += _delete(sorted(seq for seq in ranked.values_list("seq", flat=True) if seq in old))
        start = end
        cache.set(_watermark_key(), start, timeout=None)

    # Batches nothing is left of.
    while True:
        empty = list(Batch.objects.filter(created_at__lt=cutoff, published_at__isnull=False)
                     .filter(~Exists(Event.objects.filter(batch=OuterRef("pk"))))
                     .values_list("id", flat=True)[:CHUNK])
        if not empty:
            break
        with transaction.atomic():
            result.batches += Batch.objects.filter(id__in=empty).delete()[0]
    return result


class PruneTask:
    """The relay's housekeeping: a bounded prune every ``EVENT_PRUNE_INTERVAL`` seconds, and
    at once again while a run left work (so a large backlog drains in short steps)."""

    def __init__(self) -> None:
        self._next = 0.0

    def __call__(self) -> Pruned | None:
        if settings.EVENT_RETENTION_DAYS <= 0 or time.monotonic() < self._next:
            return None
        result = prune_events(limit=CHUNK * 10)
        self._next = 0.0 if not result.complete else time.monotonic() + settings.EVENT_PRUNE_INTERVAL
        if result.events or result.batches:
            logger.info("pruned %d telemetry event(s) and %d empty batch(es)%s", result.events,
                        result.batches, "" if result.complete else "; more to do")
        return result

    __name__ = "prune_task"


prune_task = PruneTask()
