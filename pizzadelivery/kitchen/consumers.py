"""The kitchen screen's socket: restaurant staff (and admins); joins each of their pizzerias'
groups and forwards the fragments the fan-out renders."""
from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async

from pizzadelivery.infra.languages import language_group, socket_language
from pizzadelivery.infra.ws import CLOSE_FORBIDDEN, CLOSE_UNAUTHORIZED, FragmentConsumer, socket_count_changed
from pizzadelivery.policy import may

SOCKET_KIND = "kitchen"
FRAGMENT_MESSAGE = "kitchen.fragment"  # handled by kitchen_fragment


def kitchen_group(restaurant_id: int, language: str) -> str:
    """One group per pizzeria and language: the fan-out renders each watched language once."""
    return language_group(f"kitchen.{restaurant_id}", language)


def _restaurant_ids(user: Any) -> list[int] | None:
    from pizzadelivery.kitchen.selectors import kitchen_restaurants

    if not may(user, "pd.use_kitchen_screen"):
        return None
    return list(kitchen_restaurants(user).values_list("pk", flat=True))


class KitchenConsumer(FragmentConsumer):
    direct_messages = frozenset({FRAGMENT_MESSAGE})
    groups_joined: list[str] = []
    counted = False

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.refuse(CLOSE_UNAUTHORIZED)
            return
        restaurant_ids = await database_sync_to_async(_restaurant_ids)(user)
        if restaurant_ids is None:
            await self.refuse(CLOSE_FORBIDDEN)
            return
        self.last_seq: dict[str, int] = {}
        language = socket_language(self.scope)
        self.groups_joined = [kitchen_group(pk, language) for pk in restaurant_ids]
        for group in self.groups_joined:  # joined before accepting: no push slips by
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        await sync_to_async(socket_count_changed)(SOCKET_KIND, +1)
        self.counted = True

    async def disconnect(self, code: int) -> None:
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)
        if self.counted:
            await sync_to_async(socket_count_changed)(SOCKET_KIND, -1)

    async def kitchen_fragment(self, message: dict[str, Any]) -> None:
        """A restaurant's fragment; an older one than this socket already got is stale."""
        group = message["group"]
        if message["seq"] <= self.last_seq.get(group, 0):
            return
        self.last_seq[group] = message["seq"]
        await self.send(text_data=message["html"])
