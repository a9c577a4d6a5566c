"""Push the tracker's fragments after each published batch: rendered once per touched order
and language, sent to that order's group for the language, whatever the number of open trackers."""
from __future__ import annotations

import logging
import uuid
from typing import Any

from events.publisher import PublishedBatch
from pizzadelivery.infra.group_sends import group_send_all
from pizzadelivery.infra.languages import in_each_language
from tracking.consumers import FRAGMENT_MESSAGE, tracker_group
from tracking.fragments import render_live
from tracking.selectors import tracker_snapshot

logger = logging.getLogger(__name__)


def tracker_messages(batch: PublishedBatch) -> list[tuple[str, dict[str, Any]]]:
    messages = []
    for order_id in batch.order_ids():
        try:
            snapshot = tracker_snapshot(uuid.UUID(order_id))
            if snapshot is not None:
                for language, html in in_each_language(lambda: render_live(snapshot)):  # noqa: B023 (run at once)
                    messages.append((tracker_group(order_id, language),
                                     {"type": FRAGMENT_MESSAGE, "seq": batch.last_seq, "html": html}))
        except Exception:  # one order's fragments failing must not cost the others theirs
            logger.exception("tracker fragments for order %s (batch %s) failed", order_id, batch.id)
    return messages


def tracker_fanout(batch: PublishedBatch) -> None:
    """Registered with the publisher; runs once per batch in the process that published it."""
    group_send_all(tracker_messages(batch))
