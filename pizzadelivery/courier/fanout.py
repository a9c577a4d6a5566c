"""Push a driver's app fragment after a published batch that changes what it shows (a new job,
the kitchen's progress on it, the shift): rendered once per driver, to their group. A position
report changes nothing on the driver's own screen and renders nothing."""
from __future__ import annotations

import logging
from typing import Any

from events.publisher import PublishedBatch
from events.registry import telemetry_types
from pizzadelivery.courier import fragments
from pizzadelivery.courier.consumers import FRAGMENT_MESSAGE, driver_group
from pizzadelivery.courier.selectors import current_job
from pizzadelivery.infra.group_sends import group_send_all, watched_groups
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
    groups = {driver_group(pk): pk for pk in touched_drivers(batch)}
    watched = [groups[group] for group in watched_groups(groups)]
    messages = []
    for driver in Driver.objects.filter(pk__in=watched):
        try:
            html = fragments.render(driver, current_job(driver.id))
        except Exception:  # one driver's fragment failing must not cost the others theirs
            logger.exception("driver fragment for driver %s (batch %s) failed", driver.id, batch.id)
            continue
        messages.append((driver_group(driver.id), {"type": FRAGMENT_MESSAGE, "seq": batch.last_seq, "html": html}))
    return messages


def courier_fanout(batch: PublishedBatch) -> None:
    """Registered with the publisher; runs once per batch in the process that published it."""
    group_send_all(courier_messages(batch))
