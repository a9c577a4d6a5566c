"""WebSocket plumbing shared by the live pages.

A refused socket is accepted and then closed with a 4xxx code: a browser sees the code (a
handshake refusal would look like a network error, 1006, and htmx would retry forever).
"""
from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from channels.generic.websocket import AsyncWebsocketConsumer
from channels.security.websocket import OriginValidator
from django.conf import settings

CLOSE_FORBIDDEN_ORIGIN = 4003
CLOSE_UNAUTHORIZED = 4001
CLOSE_NOT_FOUND = 4004


class CloseAfterAccept(AsyncWebsocketConsumer):
    code = CLOSE_FORBIDDEN_ORIGIN

    async def connect(self) -> None:
        await self.accept()
        await self.close(code=self.code)


class RefusingOriginValidator(OriginValidator):
    """Channels' origin check against ALLOWED_HOSTS, refusing with a 4003 close."""

    def __init__(self, application: Any) -> None:
        allowed = list(settings.ALLOWED_HOSTS)
        if settings.DEBUG and not allowed:
            allowed = ["localhost", "127.0.0.1", "[::1]"]
        super().__init__(application, allowed)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> Any:
        origin = None
        for name, value in scope.get("headers", []):
            if name == b"origin":
                try:
                    origin = urlparse(value.decode("latin1"))
                except UnicodeDecodeError:
                    origin = None
        if self.valid_origin(origin):
            return await self.application(scope, receive, send)
        return await CloseAfterAccept.as_asgi()(scope, receive, send)
