"""Storefront pages (server-rendered, HTMX): pizzerias, menu with cart and checkout (which
lands on the order's tracker). Every page works without JavaScript; with htmx, cart and checkout
swap fragments in place."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Min, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from events.services import correlation_scope
from pizzadelivery import services
from pizzadelivery.infra.caching import personal
from pizzadelivery.infra.errors import DomainError
from pizzadelivery.infra.ratelimits import RateLimited, enforce
from pizzadelivery.models import MenuItem, Restaurant
from pizzadelivery.policy import link_expired
from pizzadelivery.selectors import menu_for, order_queryset, restaurant_list
from pizzadelivery.storefront import cart
from pizzadelivery.storefront.cart import checkout_correlation_id
from pizzadelivery.storefront.forms import CartLineForm, CheckoutForm
from pizzadelivery.tokens import order_id_from_token, tracking_token_for

SIZE_ORDER = {MenuItem.Size.SMALL: 0, MenuItem.Size.MEDIUM: 1, MenuItem.Size.LARGE: 2, MenuItem.Size.ONE: 3}


@dataclass
class Dish:
    name: str
    description: str
    items: list[MenuItem] = field(default_factory=list)


@dataclass
class Section:
    title: str  # lazy: translated where it renders
    dishes: list[Dish]


def _menu_sections(items: QuerySet[MenuItem]) -> list[Section]:
    """One row per dish with its sizes side by side, in the order the pizzeria listed them;
    pizzas first, then the rest."""
    dishes: dict[str, Dish] = {}
    first_listed: dict[str, int] = {}
    for item in items:
        first_listed[item.name] = min(first_listed.get(item.name, item.id), item.id)
    for item in sorted(items, key=lambda i: (first_listed[i.name], SIZE_ORDER.get(i.size, 9))):
        dishes.setdefault(item.name, Dish(item.name, item.description)).items.append(item)
    sized = [d for d in dishes.values() if any(i.size != MenuItem.Size.ONE for i in d.items)]
    rest = [d for d in dishes.values() if d not in sized]
    return [s for s in (Section(_("Pizzas"), sized), Section(_("Sides, drinks & desserts"), rest)) if s.dishes]


def _menu_context(request: HttpRequest, restaurant: Restaurant, *, form: CheckoutForm | None = None,
                  cart_error: str = "") -> dict[str, Any]:
    return {"restaurant": restaurant, "sections": _menu_sections(menu_for(restaurant)),
            "cart": cart.cart_for(request.session, restaurant), "form": form or CheckoutForm(),
            "cart_error": cart_error}


@require_GET
def storefront(request: HttpRequest) -> HttpResponse:
    available = Q(menu_items__is_available=True)
    restaurants = restaurant_list().order_by("-is_open", "name").annotate(
        pizza_from=Min("menu_items__price", filter=available & ~Q(menu_items__size=MenuItem.Size.ONE)),
        dish_count=Count("menu_items__name", filter=available, distinct=True))
    return render(request, "storefront/storefront.html", {
        "restaurants": restaurants, "open_count": sum(r.is_open for r in restaurants)})


@require_GET
def restaurant_menu(request: HttpRequest, slug: str) -> HttpResponse:
    restaurant = get_object_or_404(Restaurant, slug=slug)
    return render(request, "storefront/menu.html", _menu_context(request, restaurant))


def _cart_response(request: HttpRequest, restaurant: Restaurant, *, error: str = "",
                   status: int = 200) -> HttpResponse:
    if request.htmx:
        return render(request, "storefront/_cart.html",
                      {"restaurant": restaurant, "cart": cart.cart_for(request.session, restaurant),
                       "cart_error": error, "cart_changed": True}, status=status)
    if error:
        return render(request, "storefront/menu.html", _menu_context(request, restaurant, cart_error=error),
                      status=status)
    return redirect(reverse("restaurant-menu", args=[restaurant.slug]) + "#cart")


def _change_cart(request: HttpRequest, slug: str, *, replace: bool) -> HttpResponse:
    restaurant = get_object_or_404(Restaurant, slug=slug)
    form = CartLineForm(request.POST)
    if not form.is_valid():
        return _cart_response(request, restaurant, error=gettext("That change to your cart was not understood."),
                              status=400)
    if not restaurant.is_open:
        return _cart_response(request, restaurant, error=gettext("%(name)s is closed right now.") % {"name": restaurant.name}, status=409)
    item_id, quantity = form.cleaned_data["item"], form.cleaned_data["quantity"]
    try:
        if replace:
            cart.set_quantity(request.session, restaurant, item_id, quantity or 0)
        else:
            cart.add(request.session, restaurant, item_id, quantity or 1)
    except cart.CartError as exc:
        return _cart_response(request, restaurant, error=str(exc), status=409)
    return _cart_response(request, restaurant)


@require_POST
def cart_add(request: HttpRequest, slug: str) -> HttpResponse:
    return _change_cart(request, slug, replace=False)


@require_POST
def cart_update(request: HttpRequest, slug: str) -> HttpResponse:
    """Set a line's quantity; 0 removes it."""
    return _change_cart(request, slug, replace=True)


@personal
@require_POST
def checkout(request: HttpRequest, slug: str) -> HttpResponse:
    restaurant = get_object_or_404(Restaurant, slug=slug)
    form = CheckoutForm(request.POST)
    basket = cart.cart_for(request.session, restaurant)
    status, retry_after = 422, 0
    if form.is_valid() and basket.is_empty:
        form.add_error(None, gettext("Your cart is empty: add a pizza first."))
    elif form.is_valid():
        place = form.place()
        try:
            enforce(request, group="checkout", setting="CHECKOUT_RATE_LIMIT")
            # A customer's order, told apart from an operator's (the demo's kitchens serve it).
            with correlation_scope(checkout_correlation_id(request.correlation_id)):
                order = services.order_create(
                    restaurant_id=restaurant.id, lines=basket.order_lines(), customer_name=form.cleaned_data["name"],
                    customer_phone=form.cleaned_data["phone"], address=place.label, lat=place.lat, lng=place.lng,
                    notes=form.cleaned_data["notes"], customer_email=form.cleaned_data["email"],
                    language=translation.get_language_from_request(request))
        except RateLimited as exc:
            status, retry_after = 429, exc.retry_after
            form.add_error(None, gettext("Too many orders in a short time; please try again in %(seconds)d s.")
                           % {"seconds": retry_after})
        except DomainError as exc:
            form.add_error(None, exc.message)  # in the page's language
            status = exc.status_code if exc.status_code in (409, 422) else 422
        else:
            cart.clear(request.session, restaurant)
            # The customer lands on the order's tracker: the page they keep (and share).
            url = reverse("tracking:tracker", args=[tracking_token_for(order.id)])
            return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    form.focus_first_error()
    if request.htmx:
        response = render(request, "storefront/_checkout.html",
                          {"restaurant": restaurant, "cart": basket, "form": form}, status=status)
    else:
        response = render(request, "storefront/menu.html", _menu_context(request, restaurant, form=form),
                          status=status)
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response


@personal
@require_GET
def order_confirmed(request: HttpRequest, token: str) -> HttpResponse:
    """Links from before checkout went straight to the tracker: it shows the order, its code and
    the tracking link, so the old confirmation page sends a valid link there (and a link that
    opens nothing still opens nothing)."""
    order_id = order_id_from_token(token)
    order = order_queryset().filter(pk=order_id).first() if order_id else None
    if order is None or link_expired(order):
        raise Http404("No order for that link.")
    return redirect(reverse("tracking:tracker", args=[token]), permanent=True)
