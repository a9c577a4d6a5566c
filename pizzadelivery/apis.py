"""The marketplace API (DRF): restaurants, menus, orders, their lifecycle, drivers."""
from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from pizzadelivery import ratelimits, services
from pizzadelivery.errors import ApiError
from pizzadelivery.fields import (
    MAX_INT,
    FiniteFloatField,
    StrictIntegerField,
    latitude,
    longitude,
    parse_int_id,
    parse_order_id,
)
from pizzadelivery.models import Driver, OrderStatus, Restaurant
from pizzadelivery.permissions import IsStaffOrIntegrator, check_order_access
from pizzadelivery.selectors import (
    active_orders_by_driver,
    driver_document,
    menu_for,
    order_document,
    order_queryset,
    restaurant_list,
)
from pizzadelivery.tokens import tracking_token_for

ERROR = inline_serializer("Error", fields={"error": serializers.CharField(), "detail": serializers.CharField()})


def restaurant_data(restaurant: Restaurant) -> dict[str, Any]:
    return {"id": restaurant.id, "slug": restaurant.slug, "name": restaurant.name,
            "address": restaurant.address, "description": restaurant.description,
            "location": {"lat": float(restaurant.lat), "lng": float(restaurant.lng)},
            "open": restaurant.is_open, "prep_minutes": restaurant.prep_minutes}


def tracking_url(request: Request, order_id: Any) -> str:
    return request.build_absolute_uri(reverse("tracking:tracker", args=[tracking_token_for(order_id)]))


def order_data(request: Request, order: Any) -> dict[str, Any]:
    return {**order_document(order), "tracking_url": tracking_url(request, order.id)}


class LocationOut(serializers.Serializer):
    lat = serializers.FloatField()
    lng = serializers.FloatField()


class RestaurantOut(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    name = serializers.CharField()
    address = serializers.CharField()
    description = serializers.CharField()
    location = LocationOut()
    open = serializers.BooleanField()
    prep_minutes = serializers.IntegerField()


class RestaurantListApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses={200: inline_serializer("RestaurantList", {"results": RestaurantOut(many=True)})})
    def get(self, request: Request) -> Response:
        return Response({"results": [restaurant_data(r) for r in restaurant_list()]})


class MenuItemOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField()
    size = serializers.CharField()
    size_label = serializers.CharField()
    price = serializers.DecimalField(max_digits=8, decimal_places=2)
    available = serializers.BooleanField()


class RestaurantMenuApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses={200: inline_serializer("Menu", {"restaurant": RestaurantOut(),
                                                              "results": MenuItemOut(many=True)}),
                              400: ERROR, 404: ERROR})
    def get(self, request: Request, restaurant_id: str) -> Response:
        pk = parse_int_id(restaurant_id, code="invalid_restaurant_id", what="Restaurant")
        restaurant = Restaurant.objects.filter(pk=pk).first()
        if restaurant is None:
            raise ApiError("restaurant_not_found", "No restaurant with that id.", status_code=404)
        items = [{"id": item.id, "name": item.name, "description": item.description, "size": item.size,
                  "size_label": item.get_size_display(), "price": str(item.price),
                  "available": item.is_available} for item in menu_for(restaurant)]
        return Response({"restaurant": restaurant_data(restaurant), "results": items})


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


class OrderOut(serializers.Serializer):
    id = serializers.UUIDField()
    code = serializers.CharField()
    status = serializers.ChoiceField(choices=OrderStatus.choices)
    kitchen_status = serializers.CharField()
    delivery_status = serializers.CharField(allow_null=True)
    restaurant = serializers.DictField()
    items = serializers.ListField(child=serializers.DictField())
    total = serializers.CharField()
    delivery_address = serializers.DictField()
    driver_id = serializers.IntegerField(allow_null=True)
    timestamps = serializers.DictField()
    eta = serializers.DictField()
    tracking_url = serializers.URLField()


class OrderCreateApi(APIView):
    permission_classes = [IsStaffOrIntegrator]

    @extend_schema(request=OrderCreateIn, responses={201: OrderOut, 400: ERROR, 404: ERROR, 409: ERROR,
                                                     429: ERROR})
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
        return Response(order_data(request, order_queryset().get(pk=order.id)), status=status.HTTP_201_CREATED)


TOKEN_PARAM = OpenApiParameter("token", str, description="The order's tracking token (customers).")


class OrderDetailApi(APIView):
    permission_classes = [AllowAny]  # checked per order: staff, integrator or tracking token

    @extend_schema(parameters=[TOKEN_PARAM], responses={200: OrderOut, 400: ERROR, 401: ERROR, 403: ERROR,
                                                        404: ERROR})
    def get(self, request: Request, order_id: str) -> Response:
        pk = parse_order_id(order_id)
        check_order_access(request, pk)
        order = order_queryset().filter(pk=pk).first()
        if order is None:
            raise ApiError("order_not_found", "No order with that id.", status_code=404)
        return Response(order_data(request, order))


class TransitionIn(serializers.Serializer):
    to = serializers.ChoiceField(choices=OrderStatus.values)
    driver_id = StrictIntegerField(min_value=1, max_value=MAX_INT, required=False, allow_null=True)
    reason = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class OrderTransitionApi(APIView):
    permission_classes = [IsStaffOrIntegrator]

    @extend_schema(request=TransitionIn, responses={200: OrderOut, 400: ERROR, 404: ERROR, 409: ERROR})
    def post(self, request: Request, order_id: str) -> Response:
        pk = parse_order_id(order_id)
        data = TransitionIn(data=request.data)
        data.is_valid(raise_exception=True)
        services.order_transition(order_id=pk, to=data.validated_data["to"],
                                  driver_id=data.validated_data.get("driver_id"),
                                  reason=data.validated_data["reason"])
        return Response(order_data(request, order_queryset().get(pk=pk)))


class DriverOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    vehicle = serializers.CharField()
    status = serializers.CharField()
    location = serializers.DictField(allow_null=True)
    current_assignment = serializers.DictField(allow_null=True)


def driver_data(driver: Driver, active: dict[int, Any]) -> dict[str, Any]:
    order = active.get(driver.id)
    doc = driver_document(driver, order)
    doc["current_assignment"] = ({"order_id": str(order.id), "code": order.code, "stage": order.status,
                                  "estimated_arrival": order.eta_at.isoformat() if order.eta_at else None}
                                 if order else None)
    return doc


class DriverListApi(APIView):
    permission_classes = [IsStaffOrIntegrator]

    @extend_schema(responses={200: inline_serializer("DriverList", {"results": DriverOut(many=True)})})
    def get(self, request: Request) -> Response:
        drivers = list(Driver.objects.order_by("name"))
        active = active_orders_by_driver([d.id for d in drivers])
        return Response({"results": [driver_data(d, active) for d in drivers]})


class LocationIn(serializers.Serializer):
    lat = latitude()
    lng = longitude()
    heading = FiniteFloatField(min_value=0, max_value=359.999, required=False, allow_null=True)
    speed_kmh = FiniteFloatField(min_value=0, max_value=250, required=False, allow_null=True)


class DriverLocationApi(APIView):
    permission_classes = [IsStaffOrIntegrator]

    @extend_schema(request=LocationIn, responses={200: DriverOut, 400: ERROR, 404: ERROR, 429: ERROR})
    def post(self, request: Request, driver_id: str) -> Response:
        pk = parse_int_id(driver_id, code="invalid_driver_id", what="Driver")
        ratelimits.enforce(request, group="drivers.location", setting="LOCATION_RATE_LIMIT")
        data = LocationIn(data=request.data)
        data.is_valid(raise_exception=True)
        value = data.validated_data
        driver = services.driver_location_update(driver_id=pk, lat=value["lat"], lng=value["lng"],
                                                 heading=value.get("heading"), speed_kmh=value.get("speed_kmh"))
        return Response(driver_data(driver, active_orders_by_driver([driver.id])))


class DriverStatusIn(serializers.Serializer):
    status = serializers.ChoiceField(choices=[Driver.Status.AVAILABLE, Driver.Status.OFFLINE])


class DriverStatusApi(APIView):
    permission_classes = [IsStaffOrIntegrator]

    @extend_schema(request=DriverStatusIn, responses={200: DriverOut, 400: ERROR, 404: ERROR, 409: ERROR})
    def post(self, request: Request, driver_id: str) -> Response:
        pk = parse_int_id(driver_id, code="invalid_driver_id", what="Driver")
        data = DriverStatusIn(data=request.data)
        data.is_valid(raise_exception=True)
        driver = services.driver_set_status(driver_id=pk, status=data.validated_data["status"])
        return Response(driver_data(driver, {}))
