"""``GET /api/orders/{id}/delivery``: the live delivery state, for integrators and customers."""
from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from pizzadelivery.fields import parse_order_id
from pizzadelivery.models import OrderStatus
from pizzadelivery.permissions import check_order_access
from tracking.selectors import delivery_state

# Output serializers describe the response for the OpenAPI schema; the selector builds it.


class LatLngOut(serializers.Serializer):
    lat = serializers.FloatField()
    lng = serializers.FloatField()


class DeliveryOrderOut(serializers.Serializer):
    id = serializers.UUIDField()
    code = serializers.CharField()
    status = serializers.ChoiceField(choices=OrderStatus.choices)
    restaurant = inline_serializer("DeliveryRestaurant", {
        "id": serializers.IntegerField(), "slug": serializers.CharField(), "name": serializers.CharField(),
        "address": serializers.CharField(), "location": LatLngOut()})
    items = inline_serializer("DeliveryItem", {
        "menu_item": serializers.IntegerField(), "name": serializers.CharField(),
        "size": serializers.CharField(), "quantity": serializers.IntegerField(),
        "unit_price": serializers.DecimalField(max_digits=8, decimal_places=2),
        "line_total": serializers.DecimalField(max_digits=10, decimal_places=2)}, many=True)
    total = serializers.DecimalField(max_digits=10, decimal_places=2)
    delivery_address = inline_serializer("DeliveryAddress", {
        "text": serializers.CharField(), "lat": serializers.FloatField(), "lng": serializers.FloatField()})


class DriverLocationOut(LatLngOut):
    updated_at = serializers.DateTimeField(allow_null=True)


class DeliveryDriverOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    vehicle = serializers.CharField()
    location = DriverLocationOut(allow_null=True, help_text="Shared only while the order is on the road.")


class EtaOut(serializers.Serializer):
    estimated_arrival = serializers.DateTimeField(allow_null=True)
    minutes_remaining = serializers.IntegerField(allow_null=True)
    seconds_remaining = serializers.IntegerField(allow_null=True)
    promised_at_dispatch = serializers.DateTimeField(allow_null=True)
    actual_arrival = serializers.DateTimeField(required=False, help_text="Delivered orders only.")
    error_seconds = serializers.IntegerField(required=False, allow_null=True,
                                             help_text="Delivered orders only: actual minus promised.")


class StepOut(serializers.Serializer):
    key = serializers.ChoiceField(choices=OrderStatus.choices)
    label = serializers.CharField()
    reached = serializers.BooleanField()
    reached_at = serializers.DateTimeField(allow_null=True)


class ProgressOut(serializers.Serializer):
    steps = StepOut(many=True)
    current_step = serializers.IntegerField()
    percent = serializers.IntegerField(min_value=0, max_value=100)
    distance_remaining_m = serializers.IntegerField(allow_null=True)


class DeliveryStateOut(serializers.Serializer):
    order = DeliveryOrderOut()
    status = serializers.ChoiceField(choices=OrderStatus.choices)
    driver = DeliveryDriverOut(allow_null=True)
    eta = EtaOut()
    progress = ProgressOut()
    arriving = serializers.BooleanField(help_text="The driver is about a minute away.")
    updated_at = serializers.DateTimeField(allow_null=True)
    source = serializers.ChoiceField(choices=["redis", "database"])


ERROR = inline_serializer("DeliveryError", {"error": serializers.CharField(), "detail": serializers.CharField()})
NOT_DISPATCHED = inline_serializer("DeliveryNotDispatched", {
    "error": serializers.CharField(), "detail": serializers.CharField(),
    "status": serializers.ChoiceField(choices=OrderStatus.choices, required=False,
                                      help_text="With `order_not_dispatched` only.")})


class OrderDeliveryApi(APIView):
    permission_classes = [AllowAny]  # checked per order: staff, integrator or tracking token

    @extend_schema(
        operation_id="order_delivery_state",
        summary="Live delivery state of an order",
        parameters=[OpenApiParameter("token", str, description="The order's own tracking token (customers).")],
        responses={
            200: DeliveryStateOut,
            400: OpenApiResponse(NOT_DISPATCHED, description="`invalid_order_id`, or `order_not_dispatched` "
                                                             "(with the order's `status`)."),
            401: OpenApiResponse(ERROR, description="No session, API token or tracking token."),
            403: OpenApiResponse(ERROR, description="The tracking token belongs to another order."),
            404: OpenApiResponse(ERROR, description="`order_not_found`."),
        },
    )
    def get(self, request: Request, order_id: str) -> Response:
        pk = parse_order_id(order_id)  # before anything reaches the database
        check_order_access(request, pk)
        return Response(delivery_state(pk))
