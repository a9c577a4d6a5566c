"""Django admin for the marketplace.

Lifecycle state is never edited through a form: order pages are read-only and every change
is an action that calls the same service as the API (``services.order_transition``,
``services.driver_set_status``), so the admin produces the same events, mirror updates and
live pushes as any integrator. Each action reports per object what happened or why the
service refused.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import csrf_protect_m
from django.core.exceptions import PermissionDenied
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from events.models import Event
from events.selectors import order_timeline
from events.services import correlation_scope, new_correlation_id, valid_correlation_id
from pizzadelivery import services
from pizzadelivery.infra.errors import DomainError
from pizzadelivery.lifecycle import DRIVER_STATUS_COLOUR, LOOK, ON_THE_ROAD, OrderStatus
from pizzadelivery.models import Driver, MenuItem, Order, OrderItem, Restaurant
from pizzadelivery.policy import may, transition_permission
from pizzadelivery.templatetags.marketplace import euro
from pizzadelivery.tokens import tracking_token_for

admin.site.site_header = "pizzadelivery admin"
admin.site.site_title = "pizzadelivery admin"
admin.site.index_title = "Marketplace operations"

BADGE = {**{status: look.colour for status, look in LOOK.items()}, **DRIVER_STATUS_COLOUR}


def badge(value: str, label: str) -> SafeString:
    # A class per value (colours in admin.css), not a style attribute: the CSP allows none.
    return format_html('<span class="pd-badge pd-badge--{}">{}</span>', value if value in BADGE else "other", label)


# --- restaurants and menus --------------------------------------------------------------

class MenuItemInline(admin.TabularInline):
    model = MenuItem
    extra = 0
    fields = ["name", "size", "price", "is_available", "description"]


@admin.register(Restaurant)
class RestaurantAdmin(admin.ModelAdmin):
    list_display = ["name", "is_open", "address", "prep_minutes", "menu_size"]
    list_editable = ["is_open"]
    list_filter = ["is_open"]
    search_fields = ["name", "address", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MenuItemInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Restaurant]:
        return super().get_queryset(request).annotate(menu_size=Count("menu_items"))

    @admin.display(description="Menu items", ordering="menu_size")
    def menu_size(self, restaurant: Restaurant) -> int:
        return restaurant.menu_size


@admin.register(MenuItem)
class MenuItemAdmin(admin.ModelAdmin):
    list_display = ["name", "size", "price", "restaurant", "is_available"]
    list_editable = ["price", "is_available"]
    list_filter = ["restaurant", "size", "is_available"]
    search_fields = ["name", "restaurant__name"]
    list_select_related = ["restaurant"]


# --- orders -------------------------------------------------------------------------------

LIFECYCLE_ACTIONS: list[tuple[str, str]] = [
    (OrderStatus.CONFIRMED, "Confirm"),
    (OrderStatus.PREPARING, "Start preparing"),
    (OrderStatus.READY, "Mark ready"),
    (OrderStatus.DISPATCHED, "Dispatch to nearest driver"),
    (OrderStatus.OUT_FOR_DELIVERY, "Mark picked up (out for delivery)"),
    (OrderStatus.DELIVERED, "Mark delivered"),
    (OrderStatus.CANCELLED, "Cancel"),
]
ACTION_LABELS = dict(LIFECYCLE_ACTIONS)


def _batch_correlation_id(request: HttpRequest, order: Order, many: bool) -> str:
    """The request's correlation id, made distinct per order when one action moves several,
    so that each order's timeline groups its own batch only."""
    base = getattr(request, "correlation_id", None) or new_correlation_id()
    if not many:
        return base
    derived = f"{base[:48]}.{order.code}"
    return derived if valid_correlation_id(derived) else new_correlation_id()


def _admin_reason(request: HttpRequest, to: str) -> str:
    """What the admin's cancel and deliver record (an admin delivers without the customer's PIN)."""
    if to == OrderStatus.CANCELLED:
        return f"Cancelled in the admin by {request.user.get_username()}."
    if to == OrderStatus.DELIVERED:
        return f"Marked delivered in the admin by {request.user.get_username()} (no PIN)."
    return ""


def transition_orders(request: HttpRequest, orders: Iterable[Order], to: str) -> None:
    """Move each order with ``services.order_transition`` and report each outcome."""
    orders = list(orders)
    for order in orders:
        if not may(request.user, transition_permission(to, with_pin=False), order):
            messages.error(request, f"{order.code}: refused: your account may not do that.")
            continue
        with correlation_scope(_batch_correlation_id(request, order, len(orders) > 1)):
            try:
                moved = services.order_transition(order_id=order.id, to=to, reason=_admin_reason(request, to))
            except DomainError as exc:
                messages.error(request, f"{order.code}: refused: {exc.detail}")
                continue
        driver = f" ({moved.driver.name})" if to == OrderStatus.DISPATCHED and moved.driver else ""
        messages.success(request, f"{order.code}: {ACTION_LABELS[to].lower()} done, now "
                                  f"{moved.get_status_display().lower()}{driver}.")


def _lifecycle_action(to: str, label: str) -> Callable[..., None]:
    def action(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        transition_orders(request, queryset.order_by("created_at"), to)

    action.__name__ = f"transition_to_{to}"
    return admin.action(description=f"{label} (selected orders)", permissions=["change"])(action)


class OrderItemInline(admin.TabularInline):
    model = OrderItem
    fields = ["name", "size", "unit_price_display", "quantity", "line_total"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="Unit price")
    def unit_price_display(self, item: OrderItem) -> str:
        return euro(item.unit_price)

    @admin.display(description="Line total")
    def line_total(self, item: OrderItem) -> str:
        return euro(item.line_total)


TIMESTAMPS = ["placed_at", "confirmed_at", "preparing_at", "ready_at", "dispatched_at", "out_for_delivery_at",
              "delivered_at", "cancelled_at"]


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["code", "status_badge", "kitchen_status", "restaurant", "customer_name", "driver",
                    "total_display", "created_at"]
    list_filter = ["status", "kitchen_status", "restaurant"]
    search_fields = ["code", "customer__name", "customer__phone"]
    list_select_related = ["restaurant", "customer", "driver"]
    date_hierarchy = "created_at"
    actions = [_lifecycle_action(to, label) for to, label in LIFECYCLE_ACTIONS]
    inlines = [OrderItemInline]
    fieldsets = [
        (None, {"fields": ["code", "restaurant", "customer_name", "customer_phone", "total_display", "notes",
                           "tracking_link"]}),
        ("Delivery", {"fields": ["delivery_address", "delivery_lat", "delivery_lng", "driver", "eta_at",
                                 "eta_at_dispatch"]}),
        ("Lifecycle (changes only through the actions below)", {
            "fields": ["status", "kitchen_status", "delivery_status", "lifecycle_actions", *TIMESTAMPS,
                       "cancel_reason", "pin_attempts"]}),
        ("Event timeline (one block per batch, by correlation id)", {"fields": ["event_timeline"]}),
    ]
    readonly_fields = ["code", "restaurant", "customer_name", "customer_phone", "total_display", "notes",
                       "tracking_link", "delivery_address", "delivery_lat", "delivery_lng", "driver", "eta_at",
                       "eta_at_dispatch", "status", "kitchen_status", "delivery_status", "lifecycle_actions",
                       *TIMESTAMPS, "cancel_reason", "pin_attempts", "event_timeline"]

    class Media:
        css = {"all": ["pizzadelivery/admin.css"]}

    # Orders come from the storefront and the API; deleting one would erase what its events
    # describe. Object pages are read-only: the change permission only gates the actions.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request)

    def get_urls(self) -> list[URLPattern]:
        return [
            path("<path:object_id>/transition/", self.admin_site.admin_view(self.transition_view),
                 name="pizzadelivery_order_transition"),
            *super().get_urls(),
        ]

    def transition_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The buttons on an order's page: one lifecycle action for this order."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_change_permission(request):
            raise PermissionDenied
        order = self.get_object(request, object_id)
        if order is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        to = request.POST.get("to", "")
        if to in ACTION_LABELS:
            transition_orders(request, [order], to)
        else:
            messages.error(request, "Unknown action.")
        return redirect(reverse("admin:pizzadelivery_order_change", args=[order.pk]))

    @admin.display(description="Status", ordering="status")
    def status_badge(self, order: Order) -> SafeString:
        return badge(order.status, order.get_status_display())

    @admin.display(description="Customer", ordering="customer__name")
    def customer_name(self, order: Order) -> str:
        return order.customer.name

    @admin.display(description="Phone")
    def customer_phone(self, order: Order) -> str:
        return order.customer.phone

    @admin.display(description="Total", ordering="total")
    def total_display(self, order: Order) -> str:
        return euro(order.total)

    @admin.display(description="Tracking")
    def tracking_link(self, order: Order) -> SafeString:
        url = reverse("tracking:tracker", args=[tracking_token_for(order.id)])
        return format_html('<a href="{}" target="_blank" rel="noopener">Open the customer’s tracker</a>', url)

    @admin.display(description="Actions")
    def lifecycle_actions(self, order: Order) -> SafeString:
        return render_to_string("pizzadelivery/admin/order_lifecycle.html", {
            "order": order, "actions": LIFECYCLE_ACTIONS,
            "finished": order.status in (OrderStatus.DELIVERED, OrderStatus.CANCELLED),
            "url": reverse("admin:pizzadelivery_order_transition", args=[order.pk])})

    @admin.display(description="Events")
    def event_timeline(self, order: Order) -> SafeString:
        return render_to_string("pizzadelivery/admin/order_timeline.html",
                                {"order": order, "entries": fold_location_runs(order_timeline(order_id=order.id))})


@dataclass
class TimelineEntry:
    """One batch, or a run of consecutive batches that only report the driver's position
    (a delivery makes one every few seconds): folded so the lifecycle stays readable."""
    batches: list[tuple[str, list[Event]]]
    folded: bool = False

    @property
    def first(self) -> Event:
        return self.batches[0][1][0]

    @property
    def last(self) -> Event:
        return self.batches[-1][1][-1]


def fold_location_runs(groups: list[tuple[str, list[Event]]]) -> list[TimelineEntry]:
    entries: list[TimelineEntry] = []
    for correlation_id, events in groups:
        only_positions = all(event.type == "driver.location_updated" for event in events)
        if only_positions and entries and entries[-1].folded:
            entries[-1].batches.append((correlation_id, events))
        else:
            entries.append(TimelineEntry([(correlation_id, events)], folded=only_positions))
    return entries


# --- drivers -------------------------------------------------------------------------------

class DriverRegisterForm(forms.ModelForm):
    """A new driver, registered through ``services.driver_register`` (so they reach the mirror)."""

    status = forms.ChoiceField(choices=[(Driver.Status.OFFLINE, "Offline"), (Driver.Status.AVAILABLE, "Available")],
                               initial=Driver.Status.OFFLINE)

    class Meta:
        model = Driver
        fields = ["name", "phone", "vehicle", "status", "lat", "lng"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if (cleaned.get("lat") is None) != (cleaned.get("lng") is None):
            raise forms.ValidationError("Give both latitude and longitude, or neither.")
        return cleaned


def _set_driver_status(request: HttpRequest, drivers: Iterable[Driver], status: str) -> None:
    for driver in drivers:
        try:
            services.driver_set_status(driver_id=driver.id, status=status)
        except DomainError as exc:
            messages.error(request, f"{driver.name}: refused: {exc.detail}")
        else:
            messages.success(request, f"{driver.name}: now {status}.")


@admin.action(description="Set available (on shift)", permissions=["change"])
def set_available(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Driver]) -> None:
    _set_driver_status(request, queryset, Driver.Status.AVAILABLE)


@admin.action(description="Set offline (off shift)", permissions=["change"])
def set_offline(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Driver]) -> None:
    _set_driver_status(request, queryset, Driver.Status.OFFLINE)


PROFILE_FIELDS = list(services.DRIVER_PROFILE_FIELDS)
REPORTED_FIELDS = ["status", "lat", "lng", "heading", "speed_kmh", "location_updated_at"]


@admin.register(Driver)
class DriverAdmin(admin.ModelAdmin):
    list_display = ["name", "status_badge", "vehicle", "phone", "current_order", "position", "location_updated_at"]
    list_filter = ["status", "vehicle"]
    search_fields = ["name", "phone"]
    actions = [set_available, set_offline]

    class Media:
        css = {"all": ["pizzadelivery/admin.css"]}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Driver]:
        active = Order.objects.filter(driver=OuterRef("pk"), delivery_status__in=ON_THE_ROAD)
        return super().get_queryset(request).annotate(active_order_code=Subquery(active.values("code")[:1]),
                                                      active_order_id=Subquery(active.values("id")[:1]))

    @csrf_protect_m
    def changeform_view(self, request: HttpRequest, object_id: str | None = None, form_url: str = "",
                        extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if request.method == "POST":
            # Saving runs services.driver_register or driver_update_profile, an event batch that
            # is its own (durable) transaction: it must not be nested in the transaction the
            # admin wraps around every form save.
            return self._changeform_view(request, object_id, form_url, extra_context)
        return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request: HttpRequest, obj: Driver | None = None, **kwargs: Any) -> type[forms.ModelForm]:
        if obj is None:
            kwargs["form"] = DriverRegisterForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Driver | None = None) -> list[str]:
        return DriverRegisterForm.Meta.fields if obj is None else [*PROFILE_FIELDS, *REPORTED_FIELDS]

    def get_readonly_fields(self, request: HttpRequest, obj: Driver | None = None) -> list[str]:
        # Status changes through the actions, positions come from the driver app.
        return [] if obj is None else REPORTED_FIELDS

    def save_model(self, request: HttpRequest, obj: Driver, form: forms.ModelForm, change: bool) -> None:
        if change:
            # Only the profile, through its service (an event: the mirror and the live pages
            # follow at once); a full save would also write back a status or position that
            # a service changed since this page was loaded.
            changed = [name for name in form.changed_data if name in PROFILE_FIELDS]
            if changed:
                services.driver_update_profile(driver_id=obj.pk, **{name: form.cleaned_data[name] for name in changed})
                obj.refresh_from_db()
            return
        data = form.cleaned_data
        registered = services.driver_register(
            name=data["name"], phone=data["phone"], vehicle=data["vehicle"], status=data["status"],
            lat=float(data["lat"]) if data["lat"] is not None else None,
            lng=float(data["lng"]) if data["lng"] is not None else None)
        obj.pk = registered.pk
        obj.refresh_from_db()

    @admin.display(description="Status", ordering="status")
    def status_badge(self, driver: Driver) -> SafeString:
        return badge(driver.status, driver.get_status_display())

    @admin.display(description="Current order")
    def current_order(self, driver: Driver) -> SafeString | str:
        code = getattr(driver, "active_order_code", None)
        if not code:
            return "—"
        url = reverse("admin:pizzadelivery_order_change", args=[driver.active_order_id])
        return format_html('<a href="{}">{}</a>', url, code)

    @admin.display(description="Position")
    def position(self, driver: Driver) -> str:
        if driver.lat is None or driver.lng is None:
            return "—"
        return f"{driver.lat:.4f}, {driver.lng:.4f}"
