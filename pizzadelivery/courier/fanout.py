"""Push a driver's app fragment after a published batch that changes what it shows (a new job,
the kitchen's progress on it, the shift): rendered once per driver and language, to their group. A position
report changes nothing on the driver's own screen and renders nothing."""
from __future__ import annotations

import logging
from typing import Any

from django.utils import translation

from events.publisher import PublishedBatch
from events.registry import telemetry_types
from pizzadelivery.courier import fragments
from pizzadelivery.courier.consumers import FRAGMENT_MESSAGE, driver_group
from pizzadelivery.courier.selectors import current_job
from pizzadelivery.infra.group_sends import group_send_all, watched_groups
from pizzadelivery.infra.languages import language_codes
from pizzadelivery.models import Driver, Order

logger = logging.getLogger(__name__)


def touched_drivers(batch: PublishedBatch) -> set[int]:
    quiet = set(telemetry_types()) | {"delivery.eta_updated"}
    shown = [event for event in batch.events if event.type not in quiet]
    ids = {event.driver_id for event in shown if event.driver_id is not None}
    order_ids = {event.order_id for event in shown if event.order_id}
    if order_ids:  # the kitchen's steps name no driver: the order's driver sees them
        ids.update(pk for pk in Order.objects.filter(pk__in=order_ids).values_list("driver_id", flat=True) if pk)
    return ids


def courier_messages(batch: PublishedBatch) -> list[tuple[str, dict[str, Any]]]:
    groups = {driver_group(pk, language): (pk, language)
              for pk in touched_drivers(batch) for language in language_codes()}
    watched = [groups[group] for group in watched_groups(groups)]
    drivers = Driver.objects.in_bulk({pk for pk, _language in watched})
    messages = []
    for pk, language in watched:
        if pk not in drivers:
            continue
        try:
            with translation.override(language):
                html = fragments.render(drivers[pk], current_job(pk))
        except Exception:  # one driver's fragment failing must not cost the others theirs
            logger.exception("driver fragment for driver %s (batch %s) failed", pk, batch.id)
            continue
        messages.append((driver_group(pk, language), {"type": FRAGMENT_MESSAGE, "seq": batch.last_seq, "html": html}))
    return messages


def courier_fanout(batch: PublishedBatch) -> None:
    """Registered with the publisher; runs once per batch in the process that published it."""
    group_send_all(courier_messages(batch))
