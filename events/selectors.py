from __future__ import annotations

import uuid

from django.db.models import Count, Min, QuerySet

from events.models import Batch, Event


def event_list(*, after: int | None = None, order_id: uuid.UUID | None = None,
               correlation_id: str | None = None, types: list[str] | None = None) -> QuerySet[Event]:
    events = Event.objects.all().order_by("seq")
    if after is not None:
        events = events.filter(seq__gt=after)
    if order_id is not None:
        events = events.filter(order_id=order_id)
    if correlation_id is not None:
        events = events.filter(correlation_id=correlation_id)
    if types:
        events = events.filter(type__in=types)
    return events


def recent_events(*, limit: int = 30) -> list[Event]:
    return list(Event.objects.order_by("-seq")[:limit])


def order_timeline(*, order_id: uuid.UUID) -> list[tuple[str, list[Event]]]:
    """The order's events grouped by correlation id, batches in order."""
    groups: dict[str, list[Event]] = {}
    for event in event_list(order_id=order_id):
        groups.setdefault(event.correlation_id, []).append(event)
    for correlation_id in list(groups):
        # A batch may hold events of the order that do not name it (driver.released).
        groups[correlation_id] = list(event_list(correlation_id=correlation_id))
    return list(groups.items())


def outbox_backlog() -> dict[str, object]:
    """Unpublished batches and the oldest one's age, read in one query so they agree."""
    backlog = Batch.objects.filter(published_at__isnull=True).aggregate(
        pending_batches=Count("id"), oldest_pending_at=Min("created_at"))
    return {"pending_batches": backlog["pending_batches"], "oldest_pending_at": backlog["oldest_pending_at"]}
