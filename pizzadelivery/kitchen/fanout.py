"""Push each touched restaurant's kitchen fragment after a published batch: rendered once per
restaurant and language, sent to its group, however many screens show it; nothing is rendered for a
restaurant no screen watches, nor for a batch that changes nothing a kitchen shows (a driver
reporting a position)."""
from __future__ import annotations

import logging
from typing import Any

from django.utils import translation

from events.publisher import PublishedBatch
from pizzadelivery.infra.group_sends import group_send_all, watched_groups
from pizzadelivery.infra.languages import language_codes
from pizzadelivery.kitchen import fragments
from pizzadelivery.kitchen.consumers import FRAGMENT_MESSAGE, kitchen_group
from pizzadelivery.kitchen.selectors import board_orders, menu_of
from pizzadelivery.models import Order, Restaurant

logger = logging.getLogger(__name__)
# What a kitchen shows: its orders' stages and drivers, its open sign and its menu.
SHOWN = ("order.", "driver.assigned", "driver.released", "restaurant.", "menu_item.")


def touched_restaurants(batch: PublishedBatch) -> set[int]:
    shown = [event for event in batch.events if event.type.startswith(SHOWN)]
    ids = {event.payload["restaurant_id"] for event in shown if "restaurant_id" in event.payload}
    order_ids = {event.order_id for event in shown if event.order_id}
    if order_ids:
        ids.update(Order.objects.filter(pk__in=order_ids).values_list("restaurant_id", flat=True))
    return ids


def kitchen_messages(batch: PublishedBatch) -> list[tuple[str, dict[str, Any]]]:
    groups = {kitchen_group(pk, language): (pk, language)
              for pk in touched_restaurants(batch) for language in language_codes()}
    watched = [groups[group] for group in watched_groups(groups)]
    if not watched:
        return []
    ids = sorted({pk for pk, _language in watched})
    restaurants = Restaurant.objects.in_bulk(ids)
    orders, menus = board_orders(ids), menu_of(ids)
    messages = []
    for pk, language in watched:
        if pk not in restaurants:
            continue
        try:
            with translation.override(language):
                html = fragments.render(restaurants[pk], orders[pk], menus[pk])
        except Exception:  # one kitchen's fragment failing must not cost the others theirs
            logger.exception("kitchen fragment for restaurant %s (batch %s) failed", pk, batch.id)
            continue
        group = kitchen_group(pk, language)
        messages.append((group, {"type": FRAGMENT_MESSAGE, "group": group, "seq": batch.last_seq, "html": html}))
    return messages


def kitchen_fanout(batch: PublishedBatch) -> None:
    """Registered with the publisher; runs once per batch in the process that published it."""
    group_send_all(kitchen_messages(batch))
