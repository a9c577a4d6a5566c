"""The driver's app (a phone page): the shift, the current job, "Picked up", "Delivered" with
the customer's PIN. The phone's position goes to ``POST /api/drivers/{id}/location`` (the same
service as any integrator's report), from ``driver.js``.

Thin views: the driver is the logged-in user's own (``policy``), each action one service call,
the answer the same fragment the socket pushes.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from pizzadelivery import services
from pizzadelivery.courier import fragments
from pizzadelivery.courier.selectors import current_job, driver_of
from pizzadelivery.infra.errors import DomainError
from pizzadelivery.lifecycle import OrderStatus
from pizzadelivery.models import Driver
from pizzadelivery.policy import may


def drivers_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The logged-in user's own driver, handed to the view; visitors log in first."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        driver = driver_of(request.user)
        if driver is None:
            return render(request, "courier/no_driver.html", status=403)
        return view(request, driver, *args, **kwargs)

    return wrapped


def _fragment(driver: Driver) -> str:
    return mark_safe(fragments.render(driver, current_job(driver.id)))


def _answer(request: HttpRequest, driver: Driver, *, error: str = "", status: int = 200) -> HttpResponse:
    driver.refresh_from_db()
    if not request.htmx:
        if error:
            return render(request, "courier/driver.html", {"driver": driver, "fragment": _fragment(driver),
                                                           "error": error}, status=status)
        return redirect("courier:home")
    flash = render(request, "courier/_flash.html", {"error": error}).content.decode()
    return HttpResponse(_fragment(driver) + flash, status=status)


@require_GET
@never_cache
@drivers_only
def home(request: HttpRequest, driver: Driver) -> HttpResponse:
    return render(request, "courier/driver.html", {"driver": driver, "fragment": _fragment(driver)})


@require_GET
@never_cache
@drivers_only
def live(request: HttpRequest, driver: Driver) -> HttpResponse:
    """The fragment, out of band: the resync after a reconnect, and the poll."""
    return HttpResponse(_fragment(driver))


@require_POST
@drivers_only
def shift(request: HttpRequest, driver: Driver) -> HttpResponse:
    status = request.POST.get("status", "")
    if status not in (Driver.Status.AVAILABLE, Driver.Status.OFFLINE) or not may(request.user, "pd.set_shift", driver):
        return _answer(request, driver, error=gettext("Start or end a shift."), status=400)
    try:
        services.driver_set_status(driver_id=driver.id, status=status)
    except DomainError as exc:
        return _answer(request, driver, error=exc.message, status=409)
    return _answer(request, driver)


def _job_move(request: HttpRequest, driver: Driver, to: str, permission: str, **extra: Any) -> HttpResponse:
    job = current_job(driver.id)
    if job is None:
        return _answer(request, driver, error=gettext("You have no job right now."), status=409)
    if not may(request.user, permission, job):
        raise PermissionDenied("Not your job.")
    try:
        services.order_transition(order_id=job.id, to=to, **extra)
    except DomainError as exc:
        return _answer(request, driver, error=exc.message, status=exc.status_code if exc.status_code < 500 else 409)
    return _answer(request, driver)


@require_POST
@drivers_only
def pick_up(request: HttpRequest, driver: Driver) -> HttpResponse:
    return _job_move(request, driver, OrderStatus.OUT_FOR_DELIVERY, "pd.pick_up_order")


@require_POST
@drivers_only
def deliver(request: HttpRequest, driver: Driver) -> HttpResponse:
    pin = request.POST.get("pin", "").strip()
    if not (len(pin) == 4 and pin.isascii() and pin.isdigit()):
        return _answer(request, driver, error=gettext("The PIN is the customer's 4 digits."), status=400)
    return _job_move(request, driver, OrderStatus.DELIVERED, "pd.deliver_with_pin", pin=pin)
