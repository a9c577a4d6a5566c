"""Request guards that run before the app does any work.

NUL characters in the URL and the query string are refused with a 400.

PostgreSQL cannot store or compare text containing NUL: a value that reaches a query without a
form validating it first (the admin's list filters, ``?status=%00``) would be a DataError, a 500.
Forms and DRF serializers already refuse NUL in bodies.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse

from pizzadelivery.infra.errors import error_body


class RejectNulMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path or any("\x00" in key or any("\x00" in value for value in values)
                                         for key, values in request.GET.lists()):
            raise SuspiciousOperation("NUL character in the URL")
        return self.get_response(request)


# --- request bodies -------------------------------------------------------------------------

def _too_large(path: str, limit: int) -> tuple[bytes, bytes]:
    """The 413's body and content type: JSON for the API, a short page for pages."""
    detail = f"Request bodies are limited to {limit} bytes."
    if path.startswith("/api/"):
        return json.dumps(error_body("payload_too_large", detail)).encode(), b"application/json"
    page = f"<!doctype html><title>Too large</title><h1>Too large</h1><p>{detail}</p>"
    return page.encode(), b"text/html; charset=utf-8"


class BodyLimitMiddleware:
    """A body declared larger than ``MAX_BODY_BYTES`` is refused with 413 from its headers,
    first of all (before sessions, authentication, CSRF). Under ASGI the body never gets this
    far: ``AsgiBodyLimit`` counts it as it arrives."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        declared = request.META.get("CONTENT_LENGTH") or "0"
        limit = settings.MAX_BODY_BYTES
        if not declared.isdigit() or int(declared) > limit:
            body, content_type = _too_large(request.path, limit)
            response = HttpResponse(body, status=413, content_type=content_type.decode())
            response["Connection"] = "close"
            return response
        return self.get_response(request)


class AsgiBodyLimit:
    """ASGI: read the body as it arrives and answer 413 as soon as it passes ``MAX_BODY_BYTES``
    (or at once when Content-Length says it will), instead of Django spooling all of it to disk
    first. At most the limit is held in memory; the app gets the body it would have got."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = settings.MAX_BODY_BYTES
        declared = dict(scope.get("headers") or []).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > limit:
            await self._refuse(send, scope["path"], limit)
            return
        held: list[dict[str, Any]] = []
        size = 0
        while True:
            message = await receive()
            held.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > limit:
                await self._refuse(send, scope["path"], limit)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> dict[str, Any]:
            return held.pop(0) if held else await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(send: Any, path: str, limit: int) -> None:
        body, content_type = _too_large(path, limit)
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
