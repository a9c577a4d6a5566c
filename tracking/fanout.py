"""Push the tracker's fragments after each published batch: rendered once per touched order,
sent to that order's group, whatever the number of open trackers."""
from __future__ import annotations

import logging
import uuid
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from events.publisher import PublishedBatch
from tracking.consumers import tracker_group
from tracking.fragments import render_live
from tracking.selectors import tracker_snapshot

logger = logging.getLogger(__name__)
MESSAGE_TYPE = "tracker.fragment"


def tracker_messages(batch: PublishedBatch) -> list[tuple[str, dict[str, Any]]]:
    messages = []
    for order_id in batch.order_ids():
        try:
            snapshot = tracker_snapshot(uuid.UUID(order_id))
            if snapshot is not None:
                messages.append((tracker_group(order_id),
                                 {"type": MESSAGE_TYPE, "seq": batch.last_seq, "html": render_live(snapshot)}))
        except Exception:  # one order's fragments failing must not cost the others theirs
            logger.exception("tracker fragments for order %s (batch %s) failed", order_id, batch.id)
    return messages


async def _send_all(messages: list[tuple[str, dict[str, Any]]]) -> None:
    layer = get_channel_layer()
    for group, message in messages:
        await layer.group_send(group, message)


def tracker_fanout(batch: PublishedBatch) -> None:
    """Registered with the publisher; runs once per batch in the process that published it."""
    messages = tracker_messages(batch)
    if messages:
        async_to_sync(_send_all)(messages)
