"""The driver app's socket: the driver themselves; joins their own group and forwards fragments."""
from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async

from pizzadelivery.infra.languages import language_group, socket_language
from pizzadelivery.infra.ws import CLOSE_FORBIDDEN, CLOSE_UNAUTHORIZED, FragmentConsumer, socket_count_changed
from pizzadelivery.policy import principal

SOCKET_KIND = "driver"
FRAGMENT_MESSAGE = "driver.fragment"  # handled by driver_fragment


def driver_group(driver_id: int, language: str) -> str:
    return language_group(f"driver.{driver_id}", language)


class DriverConsumer(FragmentConsumer):
    direct_messages = frozenset({FRAGMENT_MESSAGE})
    group: str | None = None
    last_seq = 0

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.refuse(CLOSE_UNAUTHORIZED)
            return
        driver_id = (await database_sync_to_async(principal)(user)).driver_id
        if driver_id is None:
            await self.refuse(CLOSE_FORBIDDEN)
            return
        self.group = driver_group(driver_id, socket_language(self.scope))
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await sync_to_async(socket_count_changed)(SOCKET_KIND, +1)

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            await sync_to_async(socket_count_changed)(SOCKET_KIND, -1)

    async def driver_fragment(self, message: dict[str, Any]) -> None:
        if message["seq"] <= self.last_seq:
            return
        self.last_seq = message["seq"]
        await self.send(text_data=message["html"])
