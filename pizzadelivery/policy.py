"""Who may do what: the one place that decides, used by the API, the pages, the admin and the
sockets alike.

Roles come from Django's own users and groups plus two ownership links (no role table):
- admin: a superuser;
- dispatcher: a member of the ``dispatchers`` group;
- restaurant staff: a user in ``Restaurant.staff`` of one or more pizzerias;
- driver: the user a ``Driver`` row points at (``Driver.user``);
- customer: no user at all, the order's signed tracking token (``pizzadelivery.tokens``).
A user with none of these roles may do nothing that is not public.

The rules are ``rules`` predicates registered as Django permissions, so every entry point asks
the same question the same way: ``user.has_perm("pd.dispatch_order", order)``.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import wraps
from typing import Any

import rules
from django.conf import settings
from django.contrib.auth.models import AnonymousUser, Group, User
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.exceptions import NotAuthenticated
from rest_framework.exceptions import PermissionDenied as DrfPermissionDenied
from rest_framework.permissions import BasePermission

from pizzadelivery.infra.errors import ApiError
from pizzadelivery.lifecycle import OrderStatus
from pizzadelivery.models import Driver, Order, Restaurant
from pizzadelivery.tokens import order_id_from_token

DISPATCHERS = "dispatchers"


# --- who the user is ------------------------------------------------------------------------

@dataclass(frozen=True)
class Principal:
    """The role facts of one user, read in one query and kept for the request."""

    is_admin: bool = False
    is_dispatcher: bool = False
    restaurant_ids: frozenset[int] = frozenset()
    driver_id: int | None = None

    @property
    def has_role(self) -> bool:
        return self.is_admin or self.is_dispatcher or bool(self.restaurant_ids) or self.driver_id is not None


NOBODY = Principal()


def principal(user: User | AnonymousUser | None) -> Principal:
    """The user's roles (cached on the user object: one query per request at most)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return NOBODY
    cached = getattr(user, "_pd_principal", None)
    if cached is not None:
        return cached
    if user.is_superuser:
        found = Principal(is_admin=True)
    else:
        rows = list(User.objects.filter(pk=user.pk).values_list("groups__name", "restaurants__id", "driver__id"))
        found = Principal(
            is_dispatcher=any(group == DISPATCHERS for group, _, _ in rows),
            restaurant_ids=frozenset(restaurant for _, restaurant, _ in rows if restaurant is not None),
            driver_id=next((driver for _, _, driver in rows if driver is not None), None),
        )
    user._pd_principal = found
    return found


def forget(user: User) -> None:
    """Drop the cached roles (after a role was granted or taken within the same request)."""
    user.__dict__.pop("_pd_principal", None)


def make_dispatcher(user: User) -> None:
    user.groups.add(Group.objects.get_or_create(name=DISPATCHERS)[0])
    forget(user)


def role_names(user: User | AnonymousUser | None) -> list[str]:
    who = principal(user)
    names = ["admin"] if who.is_admin else []
    names += ["dispatcher"] if who.is_dispatcher else []
    names += ["restaurant staff"] if who.restaurant_ids else []
    names += ["driver"] if who.driver_id is not None else []
    return names


# --- what a target belongs to ----------------------------------------------------------------

def _restaurant_id(target: Any) -> int | None:
    if isinstance(target, Restaurant):
        return target.pk
    if isinstance(target, Order):
        return target.restaurant_id
    if isinstance(target, dict):  # an order document
        return target["restaurant"]["id"]
    if isinstance(target, int):
        return target
    return None


def _driver_id(target: Any) -> int | None:
    if isinstance(target, Driver):
        return target.pk
    if isinstance(target, Order):
        return target.driver_id
    if isinstance(target, dict):  # an order document
        return target.get("driver_id")
    return None


# --- the predicates ------------------------------------------------------------------------

@rules.predicate
def is_admin(user: Any) -> bool:
    return principal(user).is_admin


@rules.predicate
def is_dispatcher(user: Any) -> bool:
    return principal(user).is_dispatcher


@rules.predicate
def is_restaurant_staff(user: Any) -> bool:
    return bool(principal(user).restaurant_ids)


@rules.predicate
def is_driver(user: Any) -> bool:
    return principal(user).driver_id is not None


@rules.predicate
def works_at(user: Any, target: Any) -> bool:
    """Staff of the restaurant the target is (or belongs to)."""
    restaurant = _restaurant_id(target)
    return restaurant is not None and restaurant in principal(user).restaurant_ids


@rules.predicate
def drives(user: Any, target: Any) -> bool:
    """The driver of the order, or the driver themselves."""
    driver = principal(user).driver_id
    return driver is not None and _driver_id(target) == driver


runs_the_fleet = is_admin | is_dispatcher

PERMISSIONS: dict[str, rules.Predicate] = {
    # orders
    "pd.list_orders": runs_the_fleet | is_restaurant_staff | is_driver,
    "pd.view_order": runs_the_fleet | works_at | drives,
    "pd.place_orders": runs_the_fleet | is_restaurant_staff,  # for some restaurant
    "pd.place_order": runs_the_fleet | works_at,  # target: the restaurant
    "pd.kitchen_step": is_admin | works_at,  # confirmed, preparing, ready
    "pd.cancel_order": runs_the_fleet | works_at,
    "pd.dispatch_order": runs_the_fleet,  # dispatch and reassign
    "pd.pick_up_order": is_admin | drives,
    "pd.deliver_with_pin": is_admin | drives,
    "pd.deliver_with_reason": runs_the_fleet,  # proof of delivery waived, the reason recorded
    # drivers
    "pd.list_drivers": runs_the_fleet | is_driver,
    "pd.view_driver": runs_the_fleet | drives,
    "pd.report_location": is_admin | drives,  # target: the driver
    "pd.set_shift": runs_the_fleet | drives,
    # restaurants
    "pd.manage_restaurant": is_admin | works_at,  # open/close, sold out
    "pd.use_kitchen_screen": is_admin | is_restaurant_staff,
    # the system
    "pd.view_state": runs_the_fleet,  # /api/state, the dashboard
    "pd.view_events": runs_the_fleet | is_restaurant_staff,  # scoped by visible_events
    "pd.manage_webhooks": runs_the_fleet | is_restaurant_staff,  # their own endpoints, fed by visible_events
}
for _name, _predicate in PERMISSIONS.items():
    rules.add_perm(_name, _predicate)


def may(user: Any, permission: str, target: Any = None) -> bool:
    return bool(user is not None and user.has_perm(permission, target))


def transition_permission(to: str, *, with_pin: bool = False) -> str:
    """The permission a move to ``to`` needs (delivering: with the customer's PIN, or not)."""
    if to in (OrderStatus.CONFIRMED, OrderStatus.PREPARING, OrderStatus.READY):
        return "pd.kitchen_step"
    if to == OrderStatus.DISPATCHED:
        return "pd.dispatch_order"
    if to == OrderStatus.OUT_FOR_DELIVERY:
        return "pd.pick_up_order"
    if to == OrderStatus.DELIVERED:
        return "pd.deliver_with_pin" if with_pin else "pd.deliver_with_reason"
    if to == OrderStatus.CANCELLED:
        return "pd.cancel_order"
    return "pd.never"  # "placed": an order is placed only once


# --- what a user may see ---------------------------------------------------------------------

def visible_orders(user: Any) -> QuerySet[Order] | None:
    """The orders the user may list, or None when they may list none (a 403)."""
    who = principal(user)
    if who.is_admin or who.is_dispatcher:
        return Order.objects.all()
    if not (who.restaurant_ids or who.driver_id is not None):
        return None
    mine = Q(restaurant_id__in=who.restaurant_ids)
    if who.driver_id is not None:
        mine |= Q(driver_id=who.driver_id)
    return Order.objects.filter(mine)


def visible_events(user: Any) -> Q | None:
    """A filter on ``events.Event`` for what the user may read, or None (a 403): everything for
    the fleet's people, their restaurants' orders' events for restaurant staff."""
    who = principal(user)
    if who.is_admin or who.is_dispatcher:
        return Q()
    if who.restaurant_ids:
        return Q(order_id__in=Order.objects.filter(restaurant_id__in=who.restaurant_ids).values("id"))
    return None


def visible_drivers(user: Any) -> QuerySet[Driver] | None:
    who = principal(user)
    if who.is_admin or who.is_dispatcher:
        return Driver.objects.all()
    if who.driver_id is not None:
        return Driver.objects.filter(pk=who.driver_id)
    return None


# --- customers: the tracking link ----------------------------------------------------------------

def _finished_at(order: Order | dict[str, Any]) -> datetime | None:
    if isinstance(order, Order):
        return order.delivered_at or order.cancelled_at
    stamps = order["timestamps"]
    value = stamps.get("delivered") or stamps.get("cancelled")
    return parse_datetime(value) if value else None


def link_expires_at(order: Order | dict[str, Any]) -> datetime | None:
    """When the order's tracking link stops working: ``TRACKING_LINK_HOURS`` after the order
    ended (delivered or cancelled); None while it runs."""
    finished = _finished_at(order)
    return finished + timedelta(hours=settings.TRACKING_LINK_HOURS) if finished else None


def link_expired(order: Order | dict[str, Any], *, now: datetime | None = None) -> bool:
    expires = link_expires_at(order)
    return expires is not None and (now or timezone.now()) >= expires


def customer_may_cancel(order: Order | dict[str, Any]) -> bool:
    status = order.status if isinstance(order, Order) else order["status"]
    return status == OrderStatus.PLACED


# --- the API ----------------------------------------------------------------------------------------

def require(request: Any, permission: str, target: Any = None) -> None:
    """401 without credentials, 403 ``forbidden`` when the caller may not (DRF views)."""
    if not request.user.is_authenticated:
        raise NotAuthenticated("Log in, or send an API token: Authorization: Token <key>.")
    if not may(request.user, permission, target):
        raise DrfPermissionDenied("Your account may not do that.")


def raise_forbidden(detail: str = "Your account may not do that.") -> None:
    raise DrfPermissionDenied(detail)


def allowed(permission: str) -> type[BasePermission]:
    """A DRF permission class for ``permission`` without a target (401 anonymous, 403 others)."""

    class Allowed(BasePermission):
        message = "Your account may not do that."

        def has_permission(self, request: Any, view: Any) -> bool:
            return may(request.user, permission)

    Allowed.__name__ = Allowed.__qualname__ = f"Allowed[{permission}]"
    return Allowed


def require_role(request: Any) -> None:
    """401 anonymous, 403 for a user with no role at all (before any lookup tells them anything)."""
    if not request.user.is_authenticated:
        raise NotAuthenticated("Log in, or send an API token: Authorization: Token <key>.")
    if not principal(request.user).has_role:
        raise DrfPermissionDenied("Your account has no role here.")


def customer_order(request: Any, order_id: Any) -> bool:
    """Whether the request reads ``order_id`` as its customer (``?token=``): True when it
    presents that order's tracking token, 403 for a token of another order; False without one."""
    token = request.query_params.get("token")
    if token is None:
        return False
    if order_id_from_token(token) != order_id:
        raise DrfPermissionDenied("That tracking token does not open this order.")
    return True


def check_customer_link(order: Order | dict[str, Any]) -> None:
    if link_expired(order):
        raise ApiError("link_expired", f"This tracking link expired {settings.TRACKING_LINK_HOURS} hours after "
                       "the order ended.", status_code=403)


# --- pages ----------------------------------------------------------------------------------------

def page_permission(permission: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """A page for a role: anonymous visitors are sent to log in, a logged-in user without the
    permission gets the 403 page (not the login page again)."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not may(request.user, permission):
                raise PermissionDenied("Your account may not open this page.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorate
