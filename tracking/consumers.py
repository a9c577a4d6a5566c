"""The tracker's socket: authenticates by the tracking token, then only forwards fragments."""
from __future__ import annotations

import uuid
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async

from pizzadelivery.infra.languages import language_group, socket_language
from pizzadelivery.infra.ws import (
    CLOSE_FORBIDDEN,
    CLOSE_NOT_FOUND,
    CLOSE_UNAUTHORIZED,
    FragmentConsumer,
    socket_count_changed,
)
from pizzadelivery.policy import link_expired
from pizzadelivery.tokens import order_id_from_token
from tracking.selectors import order_document

SOCKET_KIND = "tracker"
FRAGMENT_MESSAGE = "tracker.fragment"  # handled by tracker_fragment


def tracker_group(order_id: uuid.UUID | str, language: str) -> str:
    """One group per order and language: the fan-out renders each language once."""
    return language_group(f"track.{uuid.UUID(str(order_id)).hex}", language)


class TrackerConsumer(FragmentConsumer):
    direct_messages = frozenset({FRAGMENT_MESSAGE})
    group: str | None = None
    counted = False
    last_seq = 0

    async def connect(self) -> None:
        order_id = order_id_from_token(self.scope["url_route"]["kwargs"]["token"])
        if order_id is None:
            await self.refuse(CLOSE_UNAUTHORIZED)
            return
        order = await database_sync_to_async(order_document)(order_id)
        if order is None:
            await self.refuse(CLOSE_NOT_FOUND)
            return
        if link_expired(order):
            await self.refuse(CLOSE_FORBIDDEN)
            return
        # Join before accepting: once the browser sees the socket open, no push can slip by.
        group = tracker_group(order_id, socket_language(self.scope))
        if not await self.join(group):
            return
        self.group = group
        await self.accept()
        await sync_to_async(socket_count_changed)(SOCKET_KIND, +1)
        self.counted = True

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            await self.leave(self.group)
        if self.counted:
            await sync_to_async(socket_count_changed)(SOCKET_KIND, -1)

    async def tracker_fragment(self, message: dict[str, Any]) -> None:
        """A rendered fragment set from the fan-out. Batches from different publishers can
        arrive out of order; one older than what this socket already got is stale."""
        if message["seq"] <= self.last_seq:
            return
        self.last_seq = message["seq"]
        await self.send(text_data=message["html"])
