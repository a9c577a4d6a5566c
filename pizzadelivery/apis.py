"""The marketplace API (DRF): restaurants, menus, orders, their lifecycle, drivers.

One view per operation, each with small input and output serializers; the output serializer
is the response (``XOut(instance).data``), so the schema cannot drift from what is sent.
"""
from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from pizzadelivery import services
from pizzadelivery.infra import ratelimits
from pizzadelivery.infra.errors import ApiError, ErrorOut
from pizzadelivery.infra.fields import (
    MAX_INT,
    FiniteFloatField,
    IsoDateTimeField,
    StrictIntegerField,
    latitude,
    longitude,
    parse_int_id,
    parse_order_id,
)
from pizzadelivery.infra.permissions import IsStaffOrIntegrator
from pizzadelivery.infra.serializers import represent
from pizzadelivery.lifecycle import STAGES, OrderStatus
from pizzadelivery.mirror.documents import OrderDocument, driver_document, order_document
from pizzadelivery.models import Driver, Order, Restaurant
from pizzadelivery.policy import check_order_access
from pizzadelivery.selectors import active_orders_by_driver, menu_for, order_queryset, restaurant_list
from pizzadelivery.serializers import AddressOut, LatLngOut, OrderLineOut, OrderRestaurantOut, PositionOut
from pizzadelivery.tokens import tracking_token_for

# --- restaurants and menus ------------------------------------------------------------------

class RestaurantOut(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    name = serializers.CharField()
    address = serializers.CharField()
    description = serializers.CharField()
    location = LatLngOut(source="*")
    open = serializers.BooleanField(source="is_open")
    prep_minutes = serializers.IntegerField(help_text="Typical oven-to-box time.")


class RestaurantListOut(serializers.Serializer):
    results = RestaurantOut(many=True)


class RestaurantListApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses={200: RestaurantListOut})
    def get(self, request: Request) -> Response:
        return Response(RestaurantListOut({"results": restaurant_list()}).data)


class MenuItemOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField()
    size = serializers.CharField()
    size_label = serializers.CharField(source="get_size_display")
    price = serializers.DecimalField(max_digits=8, decimal_places=2)
    available = serializers.BooleanField(source="is_available")


class MenuOut(serializers.Serializer):
    restaurant = RestaurantOut()
    results = MenuItemOut(many=True)


class RestaurantMenuApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses={200: MenuOut, 400: ErrorOut, 404: ErrorOut})
    def get(self, request: Request, restaurant_id: str) -> Response:
        pk = parse_int_id(restaurant_id, code="invalid_restaurant_id", what="Restaurant")
        restaurant = Restaurant.objects.filter(pk=pk).first()
        if restaurant is None:
            raise ApiError("restaurant_not_found", "No restaurant with that id.", status_code=404)
        return Response(MenuOut({"restaurant": restaurant, "results": menu_for(restaurant)}).data)


# --- orders ---------------------------------------------------------------------------------

StageTimesOut = type("StageTimesOut", (serializers.Serializer,), {
    stage: IsoDateTimeField(allow_null=True, help_text=f"When the order reached {stage}.")
    for stage in STAGES})


class OrderEtaOut(serializers.Serializer):
    estimated_arrival = IsoDateTimeField(allow_null=True, help_text="The current estimate.")
    at_dispatch = IsoDateTimeField(allow_null=True, help_text="The estimate promised at dispatch.")


class OrderOut(serializers.Serializer):
    id = serializers.UUIDField()
    code = serializers.CharField(help_text="Short code for people (on the phone, on the box).")
    status = serializers.ChoiceField(choices=OrderStatus.choices)
    kitchen_status = serializers.ChoiceField(choices=OrderStatus.choices)
    delivery_status = serializers.ChoiceField(choices=OrderStatus.choices, allow_null=True)
    restaurant = OrderRestaurantOut()
    items = OrderLineOut(many=True)
    total = serializers.DecimalField(max_digits=10, decimal_places=2)
    currency = serializers.CharField()
    delivery_address = AddressOut()
    customer_name = serializers.CharField(help_text="The customer's first name.")
    notes = serializers.CharField(allow_blank=True)
    driver_id = serializers.IntegerField(allow_null=True)
    timestamps = StageTimesOut()
    eta = OrderEtaOut()
    cancel_reason = serializers.CharField(allow_blank=True)
    created_at = IsoDateTimeField()
    updated_at = IsoDateTimeField()
    tracking_url = serializers.URLField(help_text="The customer's tracker; no login needed.")


def tracking_url(request: Request, order_id: Any) -> str:
    return request.build_absolute_uri(reverse("tracking:tracker", args=[tracking_token_for(order_id)]))


def order_out(request: Request, document: OrderDocument) -> dict[str, Any]:
    return represent(OrderOut, {**document, "tracking_url": tracking_url(request, document["id"])})


def _order(order_id: Any) -> Order:
    return order_queryset().get(pk=order_id)


class LineIn(serializers.Serializer):
    menu_item = StrictIntegerField(min_value=1, max_value=MAX_INT)
    quantity = StrictIntegerField(min_value=1, max_value=services.MAX_QUANTITY)


class CustomerIn(serializers.Serializer):
    name = serializers.CharField(max_length=120, trim_whitespace=True)
    phone = serializers.RegexField(r"^\+?[0-9 ()\-]{5,31}$", max_length=32)


class AddressIn(serializers.Serializer):
    text = serializers.CharField(max_length=255)
    lat = latitude()
    lng = longitude()


class OrderCreateIn(serializers.Serializer):
    restaurant = StrictIntegerField(min_value=1, max_value=MAX_INT)
    items = LineIn(many=True, allow_empty=False, max_length=services.MAX_LINES)
    customer = CustomerIn()
    delivery_address = AddressIn()
    notes = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class OrderCreateApi(APIView):
    permission_classes = [IsStaffOrIntegrator]

    @extend_schema(request=OrderCreateIn, responses={201: OrderOut, 400: ErrorOut, 404: ErrorOut, 409: ErrorOut,
                                                     429: ErrorOut})
    def post(self, request: Request) -> Response:
        ratelimits.enforce(request, group="orders.create", setting="ORDER_CREATE_RATE_LIMIT")
        data = OrderCreateIn(data=request.data)
        data.is_valid(raise_exception=True)
        value = data.validated_data
        order = services.order_create(
            restaurant_id=value["restaurant"],
            lines=[services.LineInput(line["menu_item"], line["quantity"]) for line in value["items"]],
            customer_name=value["customer"]["name"], customer_phone=value["customer"]["phone"],
            address=value["delivery_address"]["text"], lat=value["delivery_address"]["lat"],
            lng=value["delivery_address"]["lng"], notes=value["notes"],
        )
        return Response(order_out(request, order_document(_order(order.id))), status=status.HTTP_201_CREATED)


TOKEN_PARAM = OpenApiParameter("token", str, description="The order's tracking token (customers).")


class OrderDetailApi(APIView):
    permission_classes = [AllowAny]  # checked per order: staff, integrator or tracking token

    @extend_schema(parameters=[TOKEN_PARAM], responses={200: OrderOut, 400: ErrorOut, 401: ErrorOut,
                                                        403: ErrorOut, 404: ErrorOut})
    def get(self, request: Request, order_id: str) -> Response:
        pk = parse_order_id(order_id)
        check_order_access(request, pk)
        order = order_queryset().filter(pk=pk).first()
        if order is None:
            raise ApiError("order_not_found", "No order with that id.", status_code=404)
        return Response(order_out(request, order_document(order)))


class TransitionIn(serializers.Serializer):
    to = serializers.ChoiceField(choices=OrderStatus.values)
    driver_id = StrictIntegerField(min_value=1, max_value=MAX_INT, required=False, allow_null=True)
    reason = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class OrderTransitionApi(APIView):
    permission_classes = [IsStaffOrIntegrator]

    @extend_schema(request=TransitionIn, responses={200: OrderOut, 400: ErrorOut, 404: ErrorOut, 409: ErrorOut})
    def post(self, request: Request, order_id: str) -> Response:
        pk = parse_order_id(order_id)
        data = TransitionIn(data=request.data)
        data.is_valid(raise_exception=True)
        services.order_transition(order_id=pk, to=data.validated_data["to"],
                                  driver_id=data.validated_data.get("driver_id"),
                                  reason=data.validated_data["reason"])
        return Response(order_out(request, order_document(_order(pk))))


# --- drivers --------------------------------------------------------------------------------

class AssignmentOut(serializers.Serializer):
    order_id = serializers.UUIDField(source="id")
    code = serializers.CharField()
    stage = serializers.ChoiceField(choices=OrderStatus.choices, source="status")
    estimated_arrival = IsoDateTimeField(source="eta_at", allow_null=True)


class DriverOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    vehicle = serializers.ChoiceField(choices=Driver.Vehicle.choices)
    vehicle_label = serializers.CharField()
    status = serializers.ChoiceField(choices=Driver.Status.choices)
    location = PositionOut(allow_null=True)
    current_order_id = serializers.UUIDField(allow_null=True)
    current_assignment = AssignmentOut(allow_null=True, help_text="The order the driver is on, if any.")


def driver_out(driver: Driver, active: dict[int, Order]) -> dict[str, Any]:
    order = active.get(driver.id)
    return represent(DriverOut, {**driver_document(driver, order), "current_assignment": order})


class DriverListOut(serializers.Serializer):
    results = DriverOut(many=True)


class DriverListApi(APIView):
    permission_classes = [IsStaffOrIntegrator]

    @extend_schema(responses={200: DriverListOut})
    def get(self, request: Request) -> Response:
        drivers = list(Driver.objects.order_by("name"))
        active = active_orders_by_driver([d.id for d in drivers])
        return Response({"results": [driver_out(d, active) for d in drivers]})


class LocationIn(serializers.Serializer):
    lat = latitude()
    lng = longitude()
    heading = FiniteFloatField(min_value=0, max_value=359.999, required=False, allow_null=True)
    speed_kmh = FiniteFloatField(min_value=0, max_value=250, required=False, allow_null=True)


class DriverLocationApi(APIView):
    permission_classes = [IsStaffOrIntegrator]

    @extend_schema(request=LocationIn, responses={200: DriverOut, 400: ErrorOut, 404: ErrorOut, 429: ErrorOut})
    def post(self, request: Request, driver_id: str) -> Response:
        pk = parse_int_id(driver_id, code="invalid_driver_id", what="Driver")
        ratelimits.enforce(request, group="drivers.location", setting="LOCATION_RATE_LIMIT")
        data = LocationIn(data=request.data)
        data.is_valid(raise_exception=True)
        value = data.validated_data
        driver = services.driver_location_update(driver_id=pk, lat=value["lat"], lng=value["lng"],
                                                 heading=value.get("heading"), speed_kmh=value.get("speed_kmh"))
        return Response(driver_out(driver, active_orders_by_driver([driver.id])))


class DriverStatusIn(serializers.Serializer):
    status = serializers.ChoiceField(choices=[Driver.Status.AVAILABLE, Driver.Status.OFFLINE])


class DriverStatusApi(APIView):
    permission_classes = [IsStaffOrIntegrator]

    @extend_schema(request=DriverStatusIn, responses={200: DriverOut, 400: ErrorOut, 404: ErrorOut, 409: ErrorOut})
    def post(self, request: Request, driver_id: str) -> Response:
        pk = parse_int_id(driver_id, code="invalid_driver_id", what="Driver")
        data = DriverStatusIn(data=request.data)
        data.is_valid(raise_exception=True)
        driver = services.driver_set_status(driver_id=pk, status=data.validated_data["status"])
        return Response(driver_out(driver, {}))
