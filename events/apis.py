"""``GET /api/events``: the event feed, oldest first, paged by sequence number."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from urllib.parse import urlencode

from django.db.models import Q
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from events.selectors import event_list
from events.services import valid_correlation_id
from pizzadelivery.infra.docs import AUTH_ERRORS, FORBIDDEN, NOT_AUTHENTICATED, error_example, errors
from pizzadelivery.infra.errors import ApiError
from pizzadelivery.infra.fields import UUID_RE, IsoDateTimeField

MAX_PAGE = 500
DEFAULT_PAGE = 100


def _int_param(request: Request, name: str, default: int | None, *, low: int, high: int) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18 or not low <= int(raw) <= high:
        raise ApiError("invalid_parameter", f"{name} must be a whole number from {low} to {high}.")
    return int(raw)


class EventOut(serializers.Serializer):
    seq = serializers.IntegerField()
    id = serializers.UUIDField()
    type = serializers.CharField()
    correlation_id = serializers.CharField()
    batch = serializers.IntegerField(source="batch_id", help_text="The batch (one transaction) it belongs to.")
    order_id = serializers.UUIDField(allow_null=True)
    driver_id = serializers.IntegerField(allow_null=True)
    payload = serializers.DictField(help_text="The event type's fields.")
    occurred_at = IsoDateTimeField()


class EventPageOut(serializers.Serializer):
    results = EventOut(many=True)
    next = serializers.URLField(allow_null=True, help_text="The next page, or null at the end of the feed.")


# Who may read which events is the domain's to say (events knows no role): it registers a
# scope, a filter on Event for the request's caller, or None for "nothing at all" (403).
FeedScope = Callable[[Request], Q | None]
_scope: FeedScope | None = None


def register_feed_scope(scope: FeedScope) -> None:
    global _scope
    _scope = scope


class EventFeedApi(APIView):
    """The events the caller may read (dispatchers and admins: all; restaurant staff: their
    orders'). Follow the feed with ``after=<last seq seen>``."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=["events"], summary="The event feed",
        description="Every change as ordered events, oldest first: each has a `seq` (one total order, no gaps "
                    "in what you may see but for other pizzerias' events), a `type` (the payloads are the "
                    "webhook schemas, see `POST /api/webhooks`), the `correlation_id` of its change and "
                    "`payload`. Follow it with `after=<last seq seen>`, or filter by `order_id` or "
                    "`correlation_id`.\n\n**Who may:** dispatchers and admins (every event), restaurant staff "
                    "(their pizzerias' orders' events).",
        parameters=[
            OpenApiParameter("after", int, description="Only events with a larger seq."),
            OpenApiParameter("order_id", str, description="Only this order's events."),
            OpenApiParameter("correlation_id", str, description="Only this batch's events."),
            OpenApiParameter("limit", int, description=f"Page size, 1 to {MAX_PAGE}."),
        ],
        responses={200: EventPageOut, **errors(
            e400="`invalid_parameter` (`after`, `limit`, `correlation_id`), `invalid_order_id`."), **AUTH_ERRORS},
        examples=[
            OpenApiExample("a dispatch", response_only=True, status_codes=["200"], value={"results": [
                {"seq": 90210, "id": "0b3c9f4e-8f3a-4c1e-a5d2-7e6f5a4b3c2d", "type": "order.dispatched",
                 "correlation_id": "9f8e7d6c5b4a39281706f5e4d3c2b1a0", "batch": 41022,
                 "order_id": "3f2b9c4e-1d2a-4b7e-9c1f-2a6b8d0e4f11", "driver_id": 4,
                 "payload": {"code": "PZ-7KQ2MX", "status": "dispatched", "kitchen_status": "preparing"},
                 "occurred_at": "2026-12-01T12:09:00+00:00"}],
                "next": "http://127.0.0.1:8000/api/events?after=90210"}),
            error_example(400, "invalid_parameter", "after must be a whole number from 0 to 4611686018427387904."),
            NOT_AUTHENTICATED, FORBIDDEN],
    )
    def get(self, request: Request) -> Response:
        visible = _scope(request) if _scope is not None else None
        if visible is None:
            raise PermissionDenied("Your account may not read the event feed.")
        after = _int_param(request, "after", None, low=0, high=2**62)
        limit = _int_param(request, "limit", DEFAULT_PAGE, low=1, high=MAX_PAGE)
        order_id = request.query_params.get("order_id")
        if order_id is not None and not UUID_RE.match(order_id):
            raise ApiError("invalid_order_id", "order_id must be a UUID.")
        correlation_id = request.query_params.get("correlation_id")
        if correlation_id is not None and not valid_correlation_id(correlation_id):
            raise ApiError("invalid_parameter", "correlation_id: letters, digits and ._:- (64 at most).")
        events = list(event_list(after=after, order_id=uuid.UUID(order_id) if order_id else None,
                                 correlation_id=correlation_id).filter(visible)[:limit])
        next_url = None
        if len(events) == limit:
            params = {k: v for k, v in request.query_params.items() if k != "after"}
            params["after"] = str(events[-1].seq)
            next_url = request.build_absolute_uri(f"{request.path}?{urlencode(params)}")
        return Response(EventPageOut({"results": events, "next": next_url}).data)
