"""The dashboard's socket: dispatchers and admins; joins its language's ``dashboard`` group and forwards fragments."""
from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async

from pizzadelivery.infra.languages import socket_language
from pizzadelivery.infra.ws import CLOSE_FORBIDDEN, CLOSE_UNAUTHORIZED, FragmentConsumer, socket_count_changed
from pizzadelivery.policy import may
from statedash.fanout import FEED_MESSAGE, STATE_MESSAGE, dashboard_group

SOCKET_KIND = "dashboard"


class DashboardConsumer(FragmentConsumer):
    direct_messages = frozenset({FEED_MESSAGE, STATE_MESSAGE})
    group: str | None = None
    last_state_seq = 0

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.refuse(CLOSE_UNAUTHORIZED)
            return
        if not await database_sync_to_async(may)(user, "pd.view_state"):
            await self.refuse(CLOSE_FORBIDDEN)
            return
        group = dashboard_group(socket_language(self.scope))
        if not await self.join(group):
            return
        self.group = group
        await self.accept()
        await sync_to_async(socket_count_changed)(SOCKET_KIND, +1)

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            await self.leave(self.group)
            await sync_to_async(socket_count_changed)(SOCKET_KIND, -1)

    async def dashboard_feed(self, message: dict[str, Any]) -> None:
        await self.send(text_data=message["html"])

    async def dashboard_state(self, message: dict[str, Any]) -> None:
        """State pushes from different processes can cross; an older one would undo a newer."""
        if message["seq"] < self.last_state_seq:
            return
        self.last_state_seq = message["seq"]
        await self.send(text_data=message["html"])
