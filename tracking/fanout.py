"""Push the tracker's fragments after each published group of batches: rendered once per
touched order and language that a tracker watches (the latest state, however many position
reports the group holds), sent to that order's group for the language, whatever the number of
open trackers."""
from __future__ import annotations

import logging
import uuid
from typing import Any

from django.utils import translation

from events.publisher import PublishedBatch
from pizzadelivery.infra.group_sends import group_send_all, watched_groups
from pizzadelivery.infra.languages import language_codes
from tracking.consumers import FRAGMENT_MESSAGE, tracker_group
from tracking.fragments import render_live
from tracking.selectors import tracker_snapshot

logger = logging.getLogger(__name__)


def tracker_messages(batch: PublishedBatch) -> list[tuple[str, dict[str, Any]]]:
    groups = {tracker_group(order_id, language): (order_id, language)
              for order_id in batch.order_ids() for language in language_codes()}
    watched: dict[str, list[str]] = {}  # order -> the languages its open trackers show
    for group in watched_groups(groups):  # nothing rendered for an order no tracker shows
        order_id, language = groups[group]
        watched.setdefault(order_id, []).append(language)
    messages = []
    for order_id, languages in watched.items():
        try:
            snapshot = tracker_snapshot(uuid.UUID(order_id))
            if snapshot is None:
                continue
            for language in sorted(languages):
                with translation.override(language):
                    html = render_live(snapshot)
                messages.append((tracker_group(order_id, language),
                                 {"type": FRAGMENT_MESSAGE, "seq": batch.last_seq, "html": html}))
        except Exception:  # one order's fragments failing must not cost the others theirs
            logger.exception("tracker fragments for order %s (batch %s) failed", order_id, batch.id)
    return messages


def tracker_fanout(batch: PublishedBatch) -> None:
    """Registered with the publisher; runs once per published group, in the process that published it."""
    group_send_all(tracker_messages(batch))
