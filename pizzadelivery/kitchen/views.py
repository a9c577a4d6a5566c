"""The kitchen screen: restaurant staff's live order queue (a tablet on the kitchen wall).

Thin views: parse, ask the policy, call a service, answer with the restaurant's fragment (the
same one the socket pushes). Without JavaScript every form posts and comes back to the page.
"""
from __future__ import annotations

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.safestring import mark_safe
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from pizzadelivery import services
from pizzadelivery.infra.errors import DomainError
from pizzadelivery.kitchen import fragments
from pizzadelivery.kitchen.selectors import board_orders, kitchen_restaurants, menu_of
from pizzadelivery.lifecycle import CancelReason, OrderStatus
from pizzadelivery.models import MenuItem, Order, Restaurant
from pizzadelivery.policy import may, page_permission

kitchen_staff_only = page_permission("pd.use_kitchen_screen")
KITCHEN_STEPS = (OrderStatus.CONFIRMED, OrderStatus.PREPARING, OrderStatus.READY)


def render_restaurants(restaurants: list[Restaurant]) -> list[str]:
    ids = [r.id for r in restaurants]
    orders, menus = board_orders(ids), menu_of(ids)
    return [mark_safe(fragments.render(r, orders[r.id], menus[r.id])) for r in restaurants]


@require_GET
@never_cache
@kitchen_staff_only
def screen(request: HttpRequest) -> HttpResponse:
    return render(request, "kitchen/kitchen.html", {
        "fragments": render_restaurants(list(kitchen_restaurants(request.user))),
        "cancel_reasons": CancelReason.choices})


@require_GET
@never_cache
@kitchen_staff_only
def live(request: HttpRequest) -> HttpResponse:
    """Every restaurant's fragment, out of band: the resync after a reconnect, and the poll."""
    return HttpResponse("".join(render_restaurants(list(kitchen_restaurants(request.user)))))


def _answer(request: HttpRequest, restaurant: Restaurant, *, error: str = "", status: int = 200) -> HttpResponse:
    """The restaurant's fresh fragment (and a message) for htmx; the page again without it."""
    if not request.htmx:
        if error:
            return render(request, "kitchen/kitchen.html", {
                "fragments": render_restaurants([restaurant]), "cancel_reasons": CancelReason.choices,
                "error": error}, status=status)
        return redirect("kitchen:screen")
    flash = render(request, "kitchen/_flash.html", {"error": error}).content.decode()
    return HttpResponse(render_restaurants([restaurant])[0] + flash, status=status)


def _order_for(request: HttpRequest, order_id: str, permission: str) -> Order:
    order = Order.objects.select_related("restaurant").filter(pk=order_id).first()
    if order is None:
        raise Http404("No such order.")
    if not may(request.user, permission, order):
        raise PermissionDenied("Not this kitchen's order.")
    return order


@require_POST
@kitchen_staff_only
def move(request: HttpRequest, order_id: str) -> HttpResponse:
    order = _order_for(request, order_id, "pd.kitchen_step")
    to = request.POST.get("to", "")
    if to not in KITCHEN_STEPS:
        return _answer(request, order.restaurant, error="A kitchen moves an order to confirmed, in the oven or "
                       "ready.", status=400)
    try:
        services.order_transition(order_id=order.id, to=to)
    except DomainError as exc:
        return _answer(request, order.restaurant, error=exc.message, status=409)
    return _answer(request, order.restaurant)


class CancelForm(forms.Form):
    reason_code = forms.ChoiceField(choices=CancelReason.choices)
    reason = forms.CharField(max_length=255, required=False)


@require_http_methods(["GET", "POST"])
@kitchen_staff_only
def cancel(request: HttpRequest, order_id: str) -> HttpResponse:
    """Cancel with a reason: the dialog posts here; without JavaScript, a page of its own."""
    order = _order_for(request, order_id, "pd.cancel_order")
    if request.method == "GET":
        return render(request, "kitchen/cancel.html", {"order": order, "cancel_reasons": CancelReason.choices})
    form = CancelForm(request.POST)
    if not form.is_valid():
        error = gettext("Choose why the order is cancelled.")
        if request.htmx:
            return _answer(request, order.restaurant, error=error, status=400)
        return render(request, "kitchen/cancel.html", {"order": order, "cancel_reasons": CancelReason.choices,
                                                       "error": error}, status=400)
    try:
        services.order_transition(order_id=order.id, to=OrderStatus.CANCELLED,
                                  reason_code=form.cleaned_data["reason_code"], reason=form.cleaned_data["reason"])
    except DomainError as exc:
        return _answer(request, order.restaurant, error=exc.message, status=409)
    return _answer(request, order.restaurant)


def _flag(request: HttpRequest, name: str) -> bool | None:
    return {"1": True, "0": False}.get(request.POST.get(name, ""))


@require_POST
@kitchen_staff_only
def open_or_close(request: HttpRequest, restaurant_id: int) -> HttpResponse:
    restaurant = get_object_or_404(Restaurant, pk=restaurant_id)
    if not may(request.user, "pd.manage_restaurant", restaurant):
        raise PermissionDenied("Not this kitchen's pizzeria.")
    is_open = _flag(request, "open")
    if is_open is None:
        return _answer(request, restaurant, error=gettext("Open is 1 or 0."), status=400)
    restaurant = services.restaurant_set_open(restaurant_id=restaurant.id, is_open=is_open)
    return _answer(request, restaurant)


@require_POST
@kitchen_staff_only
def menu_item(request: HttpRequest, item_id: int) -> HttpResponse:
    item = get_object_or_404(MenuItem.objects.select_related("restaurant"), pk=item_id)
    if not may(request.user, "pd.manage_restaurant", item.restaurant):
        raise PermissionDenied("Not this kitchen's menu.")
    available = _flag(request, "available")
    if available is None:
        return _answer(request, item.restaurant, error=gettext("Available is 1 or 0."), status=400)
    services.menu_item_set_available(menu_item_id=item.id, available=available)
    return _answer(request, item.restaurant)


