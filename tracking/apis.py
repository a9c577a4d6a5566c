"""``GET /api/orders/{id}/delivery``: the live delivery state, for integrators and customers."""
from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from pizzadelivery import policy
from pizzadelivery.infra.caching import personal_api
from pizzadelivery.infra.errors import ApiError, ErrorOut
from pizzadelivery.infra.docs import roles
from pizzadelivery.infra.fields import IsoDateTimeField, parse_order_id
from pizzadelivery.infra.serializers import represent
from pizzadelivery.lifecycle import OrderStatus
from pizzadelivery.mirror.readers import order_and_driver_documents_get
from pizzadelivery.serializers import AddressOut, LatLngOut, OrderLineOut
from tracking.selectors import build_state, has_delivery

# The output serializer is the response: what it does not declare is not sent.


class DeliveryRestaurantOut(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    name = serializers.CharField()
    address = serializers.CharField()
    location = LatLngOut()


class DeliveryOrderOut(serializers.Serializer):
    id = serializers.UUIDField()
    code = serializers.CharField()
    status = serializers.ChoiceField(choices=OrderStatus.choices)
    restaurant = DeliveryRestaurantOut()
    items = OrderLineOut(many=True)
    total = serializers.DecimalField(max_digits=10, decimal_places=2)
    delivery_address = AddressOut()


class DriverLocationOut(LatLngOut):
    updated_at = IsoDateTimeField(allow_null=True)


class DeliveryDriverOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    vehicle = serializers.CharField()
    location = DriverLocationOut(allow_null=True, help_text="Shared only while the order is on the road.")


class EtaOut(serializers.Serializer):
    estimated_arrival = IsoDateTimeField(allow_null=True)
    minutes_remaining = serializers.IntegerField(allow_null=True)
    seconds_remaining = serializers.IntegerField(allow_null=True)
    promised_at_dispatch = IsoDateTimeField(allow_null=True)
    actual_arrival = IsoDateTimeField(required=False, help_text="Delivered orders only.")
    error_seconds = serializers.IntegerField(required=False, allow_null=True,
                                             help_text="Delivered orders only: actual minus promised.")


class StepOut(serializers.Serializer):
    key = serializers.ChoiceField(choices=OrderStatus.choices)
    label = serializers.CharField()
    reached = serializers.BooleanField()
    reached_at = IsoDateTimeField(allow_null=True)


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
    updated_at = IsoDateTimeField(allow_null=True)
    source = serializers.ChoiceField(choices=["redis", "database"])


class NotDispatchedOut(ErrorOut):
    status = serializers.ChoiceField(choices=OrderStatus.choices, required=False,
                                     help_text="With `order_not_dispatched` only: where the order is.")


@personal_api
class OrderDeliveryApi(APIView):
    permission_classes = [AllowAny]  # decided per order by pizzadelivery.policy

    @extend_schema(
        operation_id="order_delivery_state", tags=["orders"],
        summary="Live delivery state of an order",
        description="What the customer's tracker shows, as JSON: the driver and their position (while on the "
                    "road), the ETA (it keeps correcting itself), the progress through the stages. Answered from "
                    "the Redis mirror (`source`), from the database while Redis is down. Only once the order has "
                    "been dispatched." + roles("the order's customer (`?token=`), its pizzeria's restaurant "
                                               "staff, its driver, dispatchers, admins."),
        parameters=[OpenApiParameter("token", str, description="The order's own tracking token (customers).")],
        responses={
            200: DeliveryStateOut,
            400: OpenApiResponse(NotDispatchedOut, description="`invalid_order_id`, or `order_not_dispatched` "
                                                             "(with the order's `status`)."),
            401: OpenApiResponse(ErrorOut, description="`not_authenticated`: no session, API token or tracking "
                                                       "token."),
            403: OpenApiResponse(ErrorOut, description="`forbidden`: the token opens another order, or the "
                                                       "account may not read this one; `link_expired`."),
            404: OpenApiResponse(ErrorOut, description="`order_not_found`."),
        },
        examples=[
            OpenApiExample("on the road", response_only=True, status_codes=["200"], value={
                "order": {"id": "3f2b9c4e-1d2a-4b7e-9c1f-2a6b8d0e4f11", "code": "PZ-7KQ2MX",
                          "status": "out_for_delivery",
                          "restaurant": {"id": 1, "slug": "forno-rosso", "name": "Forno Rosso",
                                         "address": "Torstraße 92, Berlin",
                                         "location": {"lat": 52.5292, "lng": 13.4011}},
                          "items": [{"menu_item": 3, "name": "Margherita", "size": "M", "quantity": 2,
                                     "unit_price": "8.50", "line_total": "17.00"}],
                          "total": "17.00",
                          "delivery_address": {"text": "Invalidenstraße 43, Berlin", "lat": 52.5306,
                                               "lng": 13.3797}},
                "status": "out_for_delivery",
                "driver": {"id": 4, "name": "Carla", "vehicle": "scooter",
                           "location": {"lat": 52.5301, "lng": 13.3902, "updated_at": "2026-12-01T12:20:00+00:00"}},
                "eta": {"estimated_arrival": "2026-12-01T12:31:00+00:00", "minutes_remaining": 11,
                        "seconds_remaining": 660, "promised_at_dispatch": "2026-12-01T12:31:00+00:00"},
                "progress": {"steps": [{"key": "placed", "label": "Placed", "reached": True,
                                        "reached_at": "2026-12-01T12:00:00+00:00"}],
                             "current_step": 5, "percent": 70, "distance_remaining_m": 1480},
                "arriving": False, "updated_at": "2026-12-01T12:20:00+00:00", "source": "redis"}),
            OpenApiExample("not dispatched", response_only=True, status_codes=["400"], value={
                "error": "order_not_dispatched", "detail": "Order PZ-7KQ2MX has no driver yet; it is preparing.",
                "status": "preparing"}),
            OpenApiExample("no such order", response_only=True, status_codes=["404"],
                           value={"error": "order_not_found", "detail": "No order with that id."}),
        ],
    )
    def get(self, request: Request, order_id: str) -> Response:
        pk = parse_order_id(order_id)  # before anything reaches the database
        as_customer = policy.customer_order(request, pk)
        if not as_customer:
            policy.require_role(request)
        order_doc, driver_doc, source = order_and_driver_documents_get(pk)
        if order_doc is None:
            raise ApiError("order_not_found", "No order with that id.", status_code=404)
        if as_customer:
            policy.check_customer_link(order_doc)
        else:
            policy.require(request, "pd.view_order", order_doc)
        if not has_delivery(order_doc):
            raise ApiError("order_not_dispatched",
                           f"Order {order_doc['code']} has no driver yet; it is {order_doc['status']}.",
                           status=order_doc["status"])
        state = build_state(order_doc, driver_doc, source=source, now=timezone.now())
        return Response(represent(DeliveryStateOut, state))
