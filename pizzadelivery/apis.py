"""The marketplace API (DRF): restaurants, menus, orders, their lifecycle, drivers.

One view per operation, each with small input and output serializers; the output serializer
is the response (``XOut(instance).data``), so the schema cannot drift from what is sent.
"""
from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from phonenumber_field.serializerfields import PhoneNumberField
from rest_framework import serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from pizzadelivery import policy, services
from pizzadelivery.infra import ratelimits
from pizzadelivery.infra.caching import personal_api
from pizzadelivery.infra.errors import ApiError, ErrorOut
from pizzadelivery.infra.fields import (
    MAX_INT,
    FiniteFloatField,
    IsoDateTimeField,
    PersonNameField,
    StrictIntegerField,
    latitude,
    longitude,
    parse_int_id,
    parse_order_id,
)
from pizzadelivery.infra.serializers import represent
from pizzadelivery.lifecycle import STAGES, OrderStatus
from pizzadelivery.mirror.documents import OrderDocument, driver_document, order_document
from pizzadelivery.models import Driver, Order, Restaurant
from pizzadelivery.policy import raise_forbidden, require, require_role, visible_drivers, visible_orders
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
    name = PersonNameField(max_length=120, trim_whitespace=True)
    phone = PhoneNumberField(max_length=32, help_text="Parsed with the phonenumbers library (national numbers "
                             "in settings.PHONENUMBER_DEFAULT_REGION); stored as E.164.")


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


class OrderPageOut(serializers.Serializer):
    results = OrderOut(many=True)
    next = serializers.URLField(allow_null=True, help_text="The next page, or null on the last one.")


class OrderFilterIn(serializers.Serializer):
    status = serializers.ChoiceField(choices=OrderStatus.values, required=False)
    restaurant = StrictIntegerField(min_value=1, max_value=MAX_INT, required=False)
    driver = StrictIntegerField(min_value=1, max_value=MAX_INT, required=False)
    updated_after = serializers.DateTimeField(required=False, help_text="ISO 8601, e.g. 2026-12-01T12:00:00Z.")

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        # Query strings carry text: the ids are whole numbers written as digits.
        data = {key: data[key] for key in self.fields if key in data}
        for key in ("restaurant", "driver"):
            if key in data:
                raw = data[key]
                data[key] = int(raw) if isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) <= 10 \
                    else raw
        return super().to_internal_value(data)


class NewestFirst(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 50
    max_page_size = 200
    page_size_query_param = "limit"


@personal_api
class OrdersApi(APIView):
    """``GET /api/orders``: the orders the caller may see; ``POST /api/orders``: place one."""

    @extend_schema(operation_id="orders_list", parameters=[OrderFilterIn], responses={200: OrderPageOut, 400: ErrorOut, 401: ErrorOut,
                                                          403: ErrorOut})
    def get(self, request: Request) -> Response:
        visible = visible_orders(request.user)
        if visible is None:
            require_role(request)
            raise_forbidden()
        filters = OrderFilterIn(data=request.query_params)
        filters.is_valid(raise_exception=True)
        wanted = filters.validated_data
        orders = order_queryset().filter(pk__in=visible.values("pk"))
        if "status" in wanted:
            orders = orders.filter(status=wanted["status"])
        if "restaurant" in wanted:
            orders = orders.filter(restaurant_id=wanted["restaurant"])
        if "driver" in wanted:
            orders = orders.filter(driver_id=wanted["driver"])
        if "updated_after" in wanted:
            orders = orders.filter(updated_at__gt=wanted["updated_after"])
        paginator = NewestFirst()
        page = paginator.paginate_queryset(orders, request, view=self)
        return Response({"results": [order_out(request, order_document(order)) for order in page],
                         "next": paginator.get_next_link()})

    @extend_schema(operation_id="orders_create", request=OrderCreateIn,
                   responses={201: OrderOut, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut,
                                                     404: ErrorOut, 409: ErrorOut, 429: ErrorOut})
    def post(self, request: Request) -> Response:
        require(request, "pd.place_orders")
        ratelimits.enforce(request, group="orders.create", setting="ORDER_CREATE_RATE_LIMIT")
        data = OrderCreateIn(data=request.data)
        data.is_valid(raise_exception=True)
        value = data.validated_data
        require(request, "pd.place_order", value["restaurant"])
        order = services.order_create(
            restaurant_id=value["restaurant"],
            lines=[services.LineInput(line["menu_item"], line["quantity"]) for line in value["items"]],
            customer_name=value["customer"]["name"], customer_phone=value["customer"]["phone"].as_e164,
            address=value["delivery_address"]["text"], lat=value["delivery_address"]["lat"],
            lng=value["delivery_address"]["lng"], notes=value["notes"],
        )
        body = order_out(request, order_document(_order(order.id)))
        return Response(body, status=status.HTTP_201_CREATED,
                        headers={"Location": request.build_absolute_uri(reverse("api-order", args=[order.id]))})


TOKEN_PARAM = OpenApiParameter("token", str, description="The order's tracking token (customers).")


def readable_order(request: Request, order_id: Any) -> Order:
    """The order, when the caller may read it: its customer (tracking token), or a role that
    sees it. 401 without credentials, 403 otherwise, 404 for no such order."""
    as_customer = policy.customer_order(request, order_id)
    if not as_customer:
        require_role(request)
    order = order_queryset().filter(pk=order_id).first()
    if order is None:
        raise ApiError("order_not_found", "No order with that id.", status_code=404)
    if as_customer:
        policy.check_customer_link(order)
    else:
        require(request, "pd.view_order", order)
    return order


@personal_api
class OrderDetailApi(APIView):
    permission_classes = [AllowAny]  # decided per order by pizzadelivery.policy

    @extend_schema(operation_id="orders_retrieve", parameters=[TOKEN_PARAM],
                   responses={200: OrderOut, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut})
    def get(self, request: Request, order_id: str) -> Response:
        order = readable_order(request, parse_order_id(order_id))
        return Response(order_out(request, order_document(order)))


class TransitionIn(serializers.Serializer):
    to = serializers.ChoiceField(choices=OrderStatus.values)
    driver_id = StrictIntegerField(min_value=1, max_value=MAX_INT, required=False, allow_null=True)
    reason = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


@personal_api
class OrderTransitionApi(APIView):
    permission_classes = [AllowAny]  # decided per order and move by pizzadelivery.policy

    @extend_schema(parameters=[TOKEN_PARAM], request=TransitionIn,
                   responses={200: OrderOut, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut,
                              409: ErrorOut})
    def post(self, request: Request, order_id: str) -> Response:
        pk = parse_order_id(order_id)
        as_customer = policy.customer_order(request, pk)
        if not as_customer:
            require_role(request)
        data = TransitionIn(data=request.data)
        data.is_valid(raise_exception=True)
        to = data.validated_data["to"]
        order = Order.objects.filter(pk=pk).first()
        if order is None:
            raise ApiError("order_not_found", "No order with that id.", status_code=404)
        if as_customer:
            policy.check_customer_link(order)
            if to != OrderStatus.CANCELLED:
                raise_forbidden("With a tracking link an order can only be cancelled.")
            if not policy.customer_may_cancel(order):
                raise ApiError("invalid_transition", "The kitchen has started on it: to cancel now, call "
                               f"{order.restaurant.name}.", status_code=409, status=order.status)
        else:
            require(request, policy.transition_permission(to), order)
        services.order_transition(order_id=pk, to=to, driver_id=data.validated_data.get("driver_id"),
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
    """The fleet for dispatchers and admins; a driver sees themselves."""

    @extend_schema(responses={200: DriverListOut, 401: ErrorOut, 403: ErrorOut})
    def get(self, request: Request) -> Response:
        visible = visible_drivers(request.user)
        if visible is None:
            require_role(request)
            raise_forbidden()
        drivers = list(visible.order_by("name"))
        active = active_orders_by_driver([d.id for d in drivers])
        return Response({"results": [driver_out(d, active) for d in drivers]})


class LocationIn(serializers.Serializer):
    lat = latitude()
    lng = longitude()
    heading = FiniteFloatField(min_value=0, max_value=359.999, required=False, allow_null=True)
    speed_kmh = FiniteFloatField(min_value=0, max_value=250, required=False, allow_null=True)


def _driver(request: Request, driver_id: str, permission: str) -> int:
    """The driver's id, when the caller may act for them (401/403), or 404."""
    pk = parse_int_id(driver_id, code="invalid_driver_id", what="Driver")
    require_role(request)
    driver = Driver.objects.filter(pk=pk).first()
    if driver is None:
        raise ApiError("driver_not_found", "No driver with that id.", status_code=404)
    require(request, permission, driver)
    return pk


class DriverLocationApi(APIView):
    """A driver reports their own position (the driver's app, or its integration)."""

    @extend_schema(request=LocationIn, responses={200: DriverOut, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut,
                                                  404: ErrorOut, 429: ErrorOut})
    def post(self, request: Request, driver_id: str) -> Response:
        pk = _driver(request, driver_id, "pd.report_location")
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
    """A driver's shift: the driver themselves, or the fleet's dispatchers."""

    @extend_schema(request=DriverStatusIn, responses={200: DriverOut, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut,
                                                      404: ErrorOut, 409: ErrorOut})
    def post(self, request: Request, driver_id: str) -> Response:
        pk = _driver(request, driver_id, "pd.set_shift")
        data = DriverStatusIn(data=request.data)
        data.is_valid(raise_exception=True)
        driver = services.driver_set_status(driver_id=pk, status=data.validated_data["status"])
        return Response(driver_out(driver, {}))
