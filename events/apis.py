"""``GET /api/events``: the event feed, oldest first, paged by sequence number."""
from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from events.models import Event
from events.selectors import event_list
from events.services import valid_correlation_id
from pizzadelivery.errors import ApiError
from pizzadelivery.fields import UUID_RE
from pizzadelivery.permissions import IsStaffOrIntegrator

ERROR = inline_serializer("EventError", fields={"error": serializers.CharField(), "detail": serializers.CharField()})
MAX_PAGE = 500
DEFAULT_PAGE = 100


def _int_param(request: Request, name: str, default: int | None, *, low: int, high: int) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18 or not low <= int(raw) <= high:
        raise ApiError("invalid_parameter", f"{name} must be a whole number from {low} to {high}.")
    return int(raw)


def event_data(event: Event) -> dict[str, Any]:
    return {"seq": event.seq, "id": str(event.id), "type": event.type, "correlation_id": event.correlation_id,
            "batch": event.batch_id, "order_id": str(event.order_id) if event.order_id else None,
            "driver_id": event.driver_id, "payload": event.payload, "occurred_at": event.occurred_at.isoformat()}


class EventOut(serializers.Serializer):
    seq = serializers.IntegerField()
    id = serializers.UUIDField()
    type = serializers.CharField()
    correlation_id = serializers.CharField()
    batch = serializers.IntegerField()
    order_id = serializers.UUIDField(allow_null=True)
    driver_id = serializers.IntegerField(allow_null=True)
    payload = serializers.DictField()
    occurred_at = serializers.DateTimeField()


class EventFeedApi(APIView):
    """Staff or integrators. Follow the feed with ``after=<last seq seen>``."""

    permission_classes = [IsStaffOrIntegrator]

    @extend_schema(
        parameters=[
            OpenApiParameter("after", int, description="Only events with a larger seq."),
            OpenApiParameter("order_id", str, description="Only this order's events."),
            OpenApiParameter("correlation_id", str, description="Only this batch's events."),
            OpenApiParameter("limit", int, description=f"Page size, 1 to {MAX_PAGE}."),
        ],
        responses={200: inline_serializer("EventPage", {"results": EventOut(many=True),
                                                        "next": serializers.CharField(allow_null=True)}),
                   400: ERROR, 401: ERROR, 403: ERROR},
    )
    def get(self, request: Request) -> Response:
        after = _int_param(request, "after", None, low=0, high=2**62)
        limit = _int_param(request, "limit", DEFAULT_PAGE, low=1, high=MAX_PAGE)
        order_id = request.query_params.get("order_id")
        if order_id is not None and not UUID_RE.match(order_id):
            raise ApiError("invalid_order_id", "order_id must be a UUID.")
        correlation_id = request.query_params.get("correlation_id")
        if correlation_id is not None and not valid_correlation_id(correlation_id):
            raise ApiError("invalid_parameter", "correlation_id: letters, digits and ._:- (64 at most).")
        events = list(event_list(after=after, order_id=uuid.UUID(order_id) if order_id else None,
                                 correlation_id=correlation_id)[:limit])
        next_url = None
        if len(events) == limit:
            params = {k: v for k, v in request.query_params.items() if k != "after"}
            params["after"] = str(events[-1].seq)
            next_url = request.build_absolute_uri(f"{request.path}?{urlencode(params)}")
        return Response({"results": [event_data(e) for e in events], "next": next_url})
