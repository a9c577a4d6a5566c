"""The marketplace API (DRF): restaurants, menus, orders, their lifecycle, drivers.

One view per operation, each with small input and output serializers; the output serializer
is the response (``XOut(instance).data``), so the schema cannot drift from what is sent.
"""
from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils import translation
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from phonenumber_field.serializerfields import PhoneNumberField
from rest_framework import serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from pizzadelivery import policy, services
from pizzadelivery.dispatching import dispatch_candidates
from pizzadelivery.infra import ratelimits
from pizzadelivery.infra.caching import personal_api
from pizzadelivery.infra.docs import AUTH_ERRORS, FORBIDDEN, NOT_AUTHENTICATED, error_example, errors, roles
from pizzadelivery.infra.errors import ApiError
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
from pizzadelivery.lifecycle import STAGES, CancelReason, OrderStatus, customer_message
from pizzadelivery.mirror.documents import OrderDocument, driver_document, order_document
from pizzadelivery.models import Driver, MenuItem, Order, Restaurant
from pizzadelivery.policy import raise_forbidden, require, require_role, visible_drivers, visible_orders
from pizzadelivery.selectors import active_orders_by_driver, menu_for, order_queryset, restaurant_list
from pizzadelivery.serializers import AddressOut, LatLngOut, OrderLineOut, OrderRestaurantOut, PositionOut
from pizzadelivery.tokens import tracking_token_for

# --- examples (the docs at /api/docs show them) ----------------------------------------------

ORDER_ID = "3f2b9c4e-1d2a-4b7e-9c1f-2a6b8d0e4f11"
RESTAURANT_EXAMPLE = {"id": 1, "slug": "forno-rosso", "name": "Forno Rosso", "address": "Torstraße 92, Berlin",
                      "description": "Neapolitan, wood-fired.", "location": {"lat": 52.5292, "lng": 13.4011},
                      "open": True, "prep_minutes": 12}
ORDER_EXAMPLE = {
    "id": ORDER_ID, "code": "PZ-7KQ2MX", "status": "dispatched", "kitchen_status": "preparing",
    "delivery_status": "dispatched",
    "restaurant": {"id": 1, "slug": "forno-rosso", "name": "Forno Rosso", "address": "Torstraße 92, Berlin",
                   "prep_minutes": 12, "location": {"lat": 52.5292, "lng": 13.4011}},
    "items": [{"menu_item": 3, "name": "Margherita", "size": "M", "quantity": 2, "unit_price": "8.50",
               "line_total": "17.00"}],
    "total": "17.00", "currency": "EUR",
    "delivery_address": {"text": "Invalidenstraße 43, Berlin", "lat": 52.5306, "lng": 13.3797},
    "customer_name": "Ada", "notes": "", "driver_id": 4,
    "timestamps": {"placed": "2026-12-01T12:00:00+00:00", "confirmed": "2026-12-01T12:00:40+00:00",
                   "preparing": "2026-12-01T12:02:00+00:00", "ready": None,
                   "dispatched": "2026-12-01T12:09:00+00:00", "out_for_delivery": None, "delivered": None,
                   "cancelled": None},
    "eta": {"estimated_arrival": "2026-12-01T12:31:00+00:00", "at_dispatch": "2026-12-01T12:31:00+00:00"},
    "cancel_reason": "", "created_at": "2026-12-01T12:00:00+00:00", "updated_at": "2026-12-01T12:09:00+00:00",
    "tracking_url": "http://127.0.0.1:8000/track/eyJvIjoiM2YyYjljNGUifQ:1t2u3v/"}
DRIVER_EXAMPLE = {
    "id": 4, "name": "Carla", "vehicle": "scooter", "vehicle_label": "Scooter", "status": "busy",
    "location": {"lat": 52.5301, "lng": 13.3902, "heading": 270.0, "speed_kmh": 24.0,
                 "updated_at": "2026-12-01T12:20:00+00:00"},
    "current_order_id": ORDER_ID,
    "current_assignment": {"order_id": ORDER_ID, "code": "PZ-7KQ2MX", "stage": "dispatched",
                           "estimated_arrival": "2026-12-01T12:31:00+00:00"}}
ORDER_NOT_FOUND = error_example(404, "order_not_found", "No order with that id.")
BAD_ORDER_ID = error_example(400, "invalid_order_id", "Order ids are UUIDs, like 3f2b9c4e-1d2a-4b7e-9c1f-2a6b8d0e4f11.")
ORDER_READERS = ("the order's customer (`?token=`), its pizzeria's restaurant staff, its driver, dispatchers, "
                 "admins.")


def _ok(name: str, value: object, status: int = 200) -> OpenApiExample:
    return OpenApiExample(name, value=value, response_only=True, status_codes=[str(status)])


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

    @extend_schema(
        tags=["restaurants"], summary="List the pizzerias",
        description="Every pizzeria, by name, with whether it takes orders now (`open`)." + roles("anyone."),
        auth=[], responses={200: RestaurantListOut},
        examples=[_ok("pizzerias", {"results": [RESTAURANT_EXAMPLE]})])
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

    @extend_schema(
        tags=["restaurants"], summary="A pizzeria's menu",
        description="The pizzeria and its menu items (`available` false: sold out). Order with the items' "
                    "`id`s." + roles("anyone."),
        auth=[],
        responses={200: MenuOut, **errors(e400="`invalid_restaurant_id`: not a positive whole number.",
                                          e404="`restaurant_not_found`.")},
        examples=[_ok("menu", {"restaurant": RESTAURANT_EXAMPLE, "results": [
            {"id": 3, "name": "Margherita", "description": "Tomato, fior di latte, basil.", "size": "M",
             "size_label": "Medium (30 cm)", "price": "8.50", "available": True}]}),
                  error_example(404, "restaurant_not_found", "No restaurant with that id.")])
    def get(self, request: Request, restaurant_id: str) -> Response:
        pk = parse_int_id(restaurant_id, code="invalid_restaurant_id", what="Restaurant")
        restaurant = Restaurant.objects.filter(pk=pk).first()
        if restaurant is None:
            raise ApiError("restaurant_not_found", "No restaurant with that id.", status_code=404)
        return Response(MenuOut({"restaurant": restaurant, "results": menu_for(restaurant)}).data)


class RestaurantStatusIn(serializers.Serializer):
    open = serializers.BooleanField(help_text="true: taking orders; false: closed.")


class RestaurantStatusApi(APIView):
    """Open or close a pizzeria: its staff, and admins."""

    @extend_schema(
        tags=["restaurants"], summary="Open or close a pizzeria",
        description="`{\"open\": false}` stops new orders (the storefront says it is closed; orders already "
                    "placed go on); `true` opens it again. Emits `restaurant.closed` or `restaurant.opened`."
                    + roles("the pizzeria's restaurant staff, admins."),
        request=RestaurantStatusIn,
        responses={200: RestaurantOut, **AUTH_ERRORS, **errors(
            e400="`invalid_restaurant_id`, `invalid_input` (with `fields`).", e404="`restaurant_not_found`.")},
        examples=[OpenApiExample("close for the night", request_only=True, value={"open": False}),
                  _ok("closed", {**RESTAURANT_EXAMPLE, "open": False}),
                  error_example(404, "restaurant_not_found", "No restaurant with that id."), NOT_AUTHENTICATED,
                  FORBIDDEN])
    def post(self, request: Request, restaurant_id: str) -> Response:
        pk = parse_int_id(restaurant_id, code="invalid_restaurant_id", what="Restaurant")
        require_role(request)
        require(request, "pd.manage_restaurant", pk)
        data = RestaurantStatusIn(data=request.data)
        data.is_valid(raise_exception=True)
        restaurant = services.restaurant_set_open(restaurant_id=pk, is_open=data.validated_data["open"])
        return Response(RestaurantOut(restaurant).data)


class MenuItemAvailabilityIn(serializers.Serializer):
    available = serializers.BooleanField(help_text="false: sold out.")


class MenuItemAvailabilityApi(APIView):
    """Mark a dish sold out, or back: its pizzeria's staff, and admins."""

    @extend_schema(
        tags=["restaurants"], summary="Mark a dish sold out, or back",
        description="`{\"available\": false}`: the storefront stops selling it (carts holding it are told at "
                    "checkout); `true`: back on the menu. Emits `menu_item.sold_out` or `menu_item.available`."
                    + roles("the dish's pizzeria's restaurant staff, admins."),
        request=MenuItemAvailabilityIn,
        responses={200: MenuItemOut, **AUTH_ERRORS, **errors(
            e400="`invalid_menu_item_id`, `invalid_input` (with `fields`).", e404="`menu_item_not_found`.")},
        examples=[OpenApiExample("sold out", request_only=True, value={"available": False}),
                  _ok("sold out", {"id": 3, "name": "Margherita", "description": "Tomato, fior di latte, basil.",
                                   "size": "M", "size_label": "Medium (30 cm)", "price": "8.50",
                                   "available": False}),
                  error_example(404, "menu_item_not_found", "No menu item with that id."), NOT_AUTHENTICATED,
                  FORBIDDEN])
    def post(self, request: Request, menu_item_id: str) -> Response:
        pk = parse_int_id(menu_item_id, code="invalid_menu_item_id", what="Menu item")
        require_role(request)
        item = MenuItem.objects.filter(pk=pk).first()
        if item is None:
            raise ApiError("menu_item_not_found", "No menu item with that id.", status_code=404)
        require(request, "pd.manage_restaurant", item.restaurant_id)
        data = MenuItemAvailabilityIn(data=request.data)
        data.is_valid(raise_exception=True)
        item = services.menu_item_set_available(menu_item_id=pk, available=data.validated_data["available"])
        return Response(MenuItemOut(item).data)


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
    cancel_reason = serializers.CharField(allow_blank=True, required=False,
                                          help_text="The staff's note (not in answers to the customer).")
    cancel_code = serializers.ChoiceField(choices=CancelReason.choices, allow_blank=True,
                                          help_text="Why it was cancelled (empty unless cancelled).")
    cancel_message = serializers.CharField(allow_blank=True, help_text="What the customer is told about it.")
    created_at = IsoDateTimeField()
    updated_at = IsoDateTimeField()
    tracking_url = serializers.URLField(help_text="The customer's tracker; no login needed.")
    delivery_pin = serializers.CharField(
        required=False, help_text="Proof of delivery, made at dispatch: only in answers to the customer's own "
                                  "tracking token (the customer tells it to the driver at the door).")


def tracking_url(request: Request, order_id: Any) -> str:
    return request.build_absolute_uri(reverse("tracking:tracker", args=[tracking_token_for(order_id)]))


def order_out(request: Request, document: OrderDocument, *, for_customer: bool = False) -> dict[str, Any]:
    """The order as its caller may see it: the delivery PIN only for its customer (once made)."""
    shown: dict[str, Any] = {**document, "tracking_url": tracking_url(request, document["id"]),
                             "cancel_message": customer_message(document["cancel_code"]) if document["cancel_code"]
                             else ""}
    if not (for_customer and document["delivery_pin"]):
        del shown["delivery_pin"]
    if for_customer:
        del shown["cancel_reason"]
    return represent(OrderOut, shown)


def _order(order_id: Any) -> Order:
    return order_queryset().get(pk=order_id)


class LineIn(serializers.Serializer):
    menu_item = StrictIntegerField(min_value=1, max_value=MAX_INT)
    quantity = StrictIntegerField(min_value=1, max_value=services.MAX_QUANTITY)


class CustomerIn(serializers.Serializer):
    name = PersonNameField(max_length=120, trim_whitespace=True)
    phone = PhoneNumberField(max_length=32, help_text="Parsed with the phonenumbers library (national numbers "
                             "in settings.PHONENUMBER_DEFAULT_REGION); stored as E.164.")
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True, default="",
                                   help_text="Optional: the customer's notifications (confirmed, on its way with "
                                             "the PIN, arriving, delivered, cancelled) are e-mailed here, in the "
                                             "language of the request's Accept-Language.")


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

    @extend_schema(
        operation_id="orders_list", tags=["orders"], summary="List orders",
        description="The orders the caller may see, newest first, 50 a page (`limit` up to 200); follow `next`. "
                    "Filter by `status`, `restaurant`, `driver` and `updated_after` (poll for changes with the "
                    "last `updated_at` you saw, or better, receive webhooks)."
                    + roles("restaurant staff (their pizzerias' orders), drivers (the orders assigned to them), "
                            "dispatchers and admins (all)."),
        parameters=[OrderFilterIn, OpenApiParameter("limit", int, description="Page size, 1 to 200 (50)."),
                    OpenApiParameter("cursor", str, description="From `next`: where the page starts.")],
        responses={200: OrderPageOut, **AUTH_ERRORS, **errors(
            e400="`invalid_input` (with `fields`): a filter is not valid.",
            e404="`not_found`: the page cursor is not valid.")},
        examples=[_ok("orders", {"results": [ORDER_EXAMPLE],
                                 "next": "http://127.0.0.1:8000/api/orders?cursor=cD0yMDI2LTEy"}),
                  NOT_AUTHENTICATED, FORBIDDEN])
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

    @extend_schema(
        operation_id="orders_create", tags=["orders"], summary="Place an order",
        description="A phone or partner order: it starts `placed`, the pizzeria confirms it. The answer is the "
                    "order, with `tracking_url` (the customer's live tracker, no login) and `Location` (the "
                    "order's URL). Rate limited per client (`ORDER_CREATE_RATE_LIMIT`, 120/min)."
                    + roles("restaurant staff (for their pizzerias), dispatchers, admins."),
        request=OrderCreateIn,
        responses={
            201: OpenApiResponse(OrderOut, description="Placed; `Location` names the order."), **AUTH_ERRORS,
            **errors(e400="`invalid_input` (with `fields`), `empty_order`, `too_many_items`, `invalid_quantity`, "
                          "`invalid_location`, `invalid_menu_item` (not on that menu), `out_of_delivery_area` "
                          "(more than 15 km away).",
                     e404="`restaurant_not_found`.",
                     e409="`restaurant_closed`, `menu_item_unavailable` (sold out).",
                     e429="`rate_limited`, with `Retry-After`.")},
        examples=[
            OpenApiExample("two Margheritas", request_only=True, value={
                "restaurant": 1, "items": [{"menu_item": 3, "quantity": 2}],
                "customer": {"name": "Ada Lovelace", "phone": "+49 30 1234567"},
                "delivery_address": {"text": "Invalidenstraße 43, Berlin", "lat": 52.5306, "lng": 13.3797},
                "notes": "Ring twice"}),
            _ok("placed", {**ORDER_EXAMPLE, "status": "placed", "kitchen_status": "placed", "delivery_status": None,
                           "driver_id": None}, 201),
            error_example(409, "restaurant_closed", "Forno Rosso is closed right now."),
            error_example(400, "out_of_delivery_area", "That address is 21.4 km away; Forno Rosso delivers within "
                                                       "15 km."),
            NOT_AUTHENTICATED, FORBIDDEN])
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
            customer_email=value["customer"]["email"], language=translation.get_language_from_request(request),
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

    @extend_schema(
        operation_id="orders_retrieve", tags=["orders"], summary="Read an order",
        description="The order: both tracks (`kitchen_status`, `delivery_status`), a timestamp for every stage "
                    "reached, the ETA, the driver." + roles(ORDER_READERS),
        parameters=[TOKEN_PARAM],
        responses={200: OrderOut, **errors(
            e400="`invalid_order_id`: not a UUID.",
            e401="`not_authenticated`: no session, API token or tracking token.",
            e403="`forbidden`: the role may not read this order, or the token opens another; `link_expired`: "
                 "the tracking link ended 24 h after the order did.",
            e404="`order_not_found`.")},
        examples=[_ok("an order on its way", ORDER_EXAMPLE), BAD_ORDER_ID, ORDER_NOT_FOUND, NOT_AUTHENTICATED,
                  FORBIDDEN])
    def get(self, request: Request, order_id: str) -> Response:
        pk = parse_order_id(order_id)
        order = readable_order(request, pk)
        return Response(order_out(request, order_document(order), for_customer=policy.customer_order(request, pk)))


class TransitionIn(serializers.Serializer):
    to = serializers.ChoiceField(choices=OrderStatus.values)
    driver_id = StrictIntegerField(min_value=1, max_value=MAX_INT, required=False, allow_null=True)
    reason = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    reason_code = serializers.ChoiceField(choices=CancelReason.choices, required=False,
                                          help_text="Cancelling: why (the customer is told its message).")
    pin = serializers.RegexField(r"\A[0-9]{4}\Z", required=False,
                                 error_messages={"invalid": "The PIN is the customer's 4 digits."},
                                 help_text="Delivering: the customer's 4-digit PIN (drivers must give it).")
    reassign = serializers.BooleanField(required=False, default=False,
                                        help_text="Dispatching: true gives an order already dispatched (not "
                                                  "yet picked up) to driver_id instead.")


@personal_api
class OrderTransitionApi(APIView):
    permission_classes = [AllowAny]  # decided per order and move by pizzadelivery.policy

    @extend_schema(
        tags=["orders"], summary="Move an order along its lifecycle",
        description="`{\"to\": \"<status>\"}` moves whichever track the status belongs to (see the lifecycle "
                    "above): kitchen `confirmed`, `preparing`, `ready`; delivery `dispatched` (with `driver_id`, or "
                    "the nearest available driver; with `\"reassign\": true` to give an order already "
                    "dispatched, not yet picked up, to another driver), `out_for_delivery`, `delivered` (with the "
                    "customer's 4-digit `pin`, which drivers must give: 5 wrong tries lock it; or, by a "
                    "dispatcher, with a `reason` instead); `cancelled` (with a `reason_code`, whose message the "
                    "customer reads, and the staff's `reason`) before pickup. One change, one batch of events "
                    "with one correlation id; a move the lifecycle refuses changes nothing."
                    + roles("per move: the kitchen steps, restaurant staff of the order's pizzeria; dispatching "
                            "and reassigning, dispatchers; pickup and delivering with the PIN, the order's "
                            "driver; delivering with a reason, dispatchers; cancelling, restaurant staff and "
                            "dispatchers, and the customer (`?token=`) while the order is `placed`; admins all."),
        parameters=[TOKEN_PARAM], request=TransitionIn,
        responses={200: OrderOut, **errors(
            e400="`invalid_order_id`, `invalid_input` (with `fields`: an unknown status, say); `pin_required`: "
                 "a driver delivering gives the PIN; `invalid_pin` (with `tries_left`).",
            e401="`not_authenticated`.",
            e403="`forbidden`: the role may not make this move (a customer may only cancel); `link_expired`.",
            e404="`order_not_found`, `driver_not_found`.",
            e409="`invalid_transition` (with `status` and `kitchen_status`): the lifecycle does not allow it now; "
                 "`driver_unavailable`, `no_driver_available`; `pin_locked`: too many wrong PINs (a dispatcher "
                 "delivers with a reason).")},
        examples=[OpenApiExample("into the oven", request_only=True, value={"to": "preparing"}),
                  OpenApiExample("send a driver", request_only=True, value={"to": "dispatched", "driver_id": 4}),
                  OpenApiExample("give it to another driver", request_only=True,
                                 value={"to": "dispatched", "driver_id": 7, "reassign": True}),
                  OpenApiExample("deliver with the PIN", request_only=True, value={"to": "delivered", "pin": "4821"}),
                  OpenApiExample("cancel", request_only=True, value={"to": "cancelled", "reason_code": "out_of_stock",
                                                                      "reason": "Out of dough."}),
                  error_example(400, "invalid_pin", "That is not the customer's PIN; 4 tries left.", tries_left=4),
                  _ok("moved", ORDER_EXAMPLE),
                  error_example(409, "invalid_transition", "Order PZ-7KQ2MX cannot go from placed to ready: the "
                                "kitchen is at placed, not preparing", status="placed", kitchen_status="placed"),
                  BAD_ORDER_ID, ORDER_NOT_FOUND, NOT_AUTHENTICATED, FORBIDDEN])
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
            pin = data.validated_data.get("pin")
            if to == OrderStatus.DELIVERED and order.delivery_status == OrderStatus.OUT_FOR_DELIVERY \
                    and pin is None and not data.validated_data["reason"].strip() \
                    and policy.may(request.user, "pd.deliver_with_pin", order):
                raise ApiError("pin_required", "Ask the customer for their 4-digit PIN.")
            require(request, policy.transition_permission(to, with_pin=pin is not None), order)
        reason_code = CancelReason.CUSTOMER_ASKED if as_customer else data.validated_data.get("reason_code",
                                                                                              CancelReason.OTHER)
        services.order_transition(order_id=pk, to=to, driver_id=data.validated_data.get("driver_id"),
                                  reason=data.validated_data["reason"], pin=data.validated_data.get("pin"),
                                  reason_code=reason_code, reassign=data.validated_data["reassign"],
                                  by_customer=as_customer)
        return Response(order_out(request, order_document(_order(pk)), for_customer=as_customer))


class CandidateOut(serializers.Serializer):
    id = serializers.IntegerField(source="driver.id")
    name = serializers.CharField(source="driver.name")
    vehicle = serializers.ChoiceField(choices=Driver.Vehicle.choices, source="driver.vehicle")
    distance_m = serializers.IntegerField(help_text="To the order's pizzeria, by road (estimated).")
    eta_to_restaurant_minutes = serializers.FloatField(help_text="At city speed (CITY_SPEED_KMH).")
    location = LatLngOut(source="driver")


class CandidateListOut(serializers.Serializer):
    results = CandidateOut(many=True)


class OrderCandidatesApi(APIView):
    """Available drivers for an order, nearest to its pizzeria first: dispatchers and admins."""

    @extend_schema(
        tags=["orders"], summary="Drivers to dispatch an order to",
        description="Available drivers, nearest to the order's pizzeria first, each with the road distance "
                    "(`distance_m`) and the time to the shop (`eta_to_restaurant_minutes`): dispatch or reassign to "
                    "one with `POST /api/orders/{id}/transition`." + roles("dispatchers, admins."),
        responses={200: CandidateListOut, **AUTH_ERRORS, **errors(
            e400="`invalid_order_id`.", e404="`order_not_found`.")},
        examples=[_ok("nearest first", {"results": [
            {"id": 4, "name": "Carla", "vehicle": "scooter", "distance_m": 850, "eta_to_restaurant_minutes": 2.6,
             "location": {"lat": 52.5301, "lng": 13.3902}}]}),
                  BAD_ORDER_ID, ORDER_NOT_FOUND, NOT_AUTHENTICATED, FORBIDDEN])
    def get(self, request: Request, order_id: str) -> Response:
        pk = parse_order_id(order_id)
        require_role(request)
        order = Order.objects.select_related("restaurant").filter(pk=pk).first()
        if order is None:
            raise ApiError("order_not_found", "No order with that id.", status_code=404)
        require(request, "pd.dispatch_order", order)
        return Response(CandidateListOut({"results": dispatch_candidates(order)}).data)


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

    @extend_schema(
        tags=["drivers"], summary="List drivers",
        description="Drivers by name with their shift status, last position and current assignment."
                    + roles("dispatchers and admins (the fleet), a driver (themselves)."),
        responses={200: DriverListOut, **AUTH_ERRORS},
        examples=[_ok("the fleet", {"results": [DRIVER_EXAMPLE]}), NOT_AUTHENTICATED, FORBIDDEN])
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
    if policy.may(request.user, permission, Driver(pk=pk)):
        return pk  # the driver themselves, or an admin: the service answers 404 for no such driver
    driver = Driver.objects.filter(pk=pk).first()
    if driver is None:
        raise ApiError("driver_not_found", "No driver with that id.", status_code=404)
    require(request, permission, driver)
    return pk


class DriverLocationApi(APIView):
    """A driver reports their own position (the driver's app, or its integration)."""

    @extend_schema(
        tags=["drivers"], summary="Report a driver's position",
        description="The driver's app reports where it is (every few seconds while on a job): the tracker's map, "
                    "the ETA and `driver.location_updated` events follow. Rate limited per client "
                    "(`LOCATION_RATE_LIMIT`, 1200/min)." + roles("the driver themselves, admins."),
        request=LocationIn,
        responses={200: DriverOut, **AUTH_ERRORS, **errors(
            e400="`invalid_driver_id`, `invalid_input` (with `fields`: out of range, say), `invalid_location`.",
            e404="`driver_not_found`.", e429="`rate_limited`, with `Retry-After`.")},
        examples=[OpenApiExample("a position", request_only=True,
                                 value={"lat": 52.5301, "lng": 13.3902, "heading": 270.0, "speed_kmh": 24.0}),
                  _ok("the driver", DRIVER_EXAMPLE),
                  error_example(404, "driver_not_found", "No driver with that id."), NOT_AUTHENTICATED, FORBIDDEN])
    def post(self, request: Request, driver_id: str) -> Response:
        pk = _driver(request, driver_id, "pd.report_location")
        ratelimits.enforce(request, group="drivers.location", setting="LOCATION_RATE_LIMIT")
        data = LocationIn(data=request.data)
        data.is_valid(raise_exception=True)
        value = data.validated_data
        driver, order = services.driver_location_report(driver_id=pk, lat=value["lat"], lng=value["lng"],
                                                        heading=value.get("heading"), speed_kmh=value.get("speed_kmh"))
        return Response(driver_out(driver, {driver.id: order} if order else {}))


class DriverStatusIn(serializers.Serializer):
    status = serializers.ChoiceField(choices=[Driver.Status.AVAILABLE, Driver.Status.OFFLINE])


class DriverStatusApi(APIView):
    """A driver's shift: the driver themselves, or the fleet's dispatchers."""

    @extend_schema(
        tags=["drivers"], summary="Start or end a driver's shift",
        description="`available` (on shift: may be dispatched) or `offline`; `busy` comes with a delivery."
                    + roles("the driver themselves, dispatchers, admins."),
        request=DriverStatusIn,
        responses={200: DriverOut, **AUTH_ERRORS, **errors(
            e400="`invalid_driver_id`, `invalid_input` (with `fields`).", e404="`driver_not_found`.",
            e409="`driver_busy`: on a delivery.")},
        examples=[OpenApiExample("end the shift", request_only=True, value={"status": "offline"}),
                  _ok("off shift", {**DRIVER_EXAMPLE, "status": "offline", "current_order_id": None,
                                    "current_assignment": None}),
                  error_example(409, "driver_busy", "Carla is on a delivery."), NOT_AUTHENTICATED, FORBIDDEN])
    def post(self, request: Request, driver_id: str) -> Response:
        pk = _driver(request, driver_id, "pd.set_shift")
        data = DriverStatusIn(data=request.data)
        data.is_valid(raise_exception=True)
        driver = services.driver_set_status(driver_id=pk, status=data.validated_data["status"])
        return Response(driver_out(driver, {}))
