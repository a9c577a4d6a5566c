"""The dispatcher dashboard (dispatchers and admins)."""
from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from events.services import valid_correlation_id
from pizzadelivery import services
from pizzadelivery.infra.errors import DomainError
from pizzadelivery.lifecycle import CancelReason, OrderStatus
from pizzadelivery.models import Driver, FleetSettings, Order
from pizzadelivery.policy import may, page_permission
from pizzadelivery.selectors import order_queryset
from statedash import fragments, panel
from statedash.selectors import batch_events

# Dispatchers and admins; a visitor is sent to log in and comes back after it.
dispatchers_only = page_permission("pd.view_state")


def _page(request: HttpRequest, *, panel: str = "", status: int = 200) -> HttpResponse:
    snapshot = fragments.dashboard_snapshot().in_language(get_language())
    return render(request, "statedash/dashboard.html", {
        "snapshot": snapshot,
        "live": fragments.LIVE,
        "fragments": {name: mark_safe(html) for name, html in snapshot.html.items()},
        "feed_rows": mark_safe(snapshot.feed_rows),
        "feed_version": mark_safe(fragments.feed_version_input(snapshot.feed_seq)),
        "time_zone": settings.TIME_ZONE,
        "panel": mark_safe(panel),
        "auto_dispatch": fleet_toggle(request),
    }, status=status)


@require_GET
@never_cache
@dispatchers_only
def dashboard(request: HttpRequest) -> HttpResponse:
    return _page(request)


# --- the order panel and the dispatcher's moves -------------------------------------------------

def _order(order_id: uuid.UUID) -> Order:
    order = order_queryset().select_related("driver").filter(pk=order_id).first()
    if order is None:
        raise Http404("No such order.")
    return order


def _panel_answer(request: HttpRequest, order_id: uuid.UUID, *, message: str = "", error: str = "",
                  status: int = 200) -> HttpResponse:
    """The panel again (fresh from the database) for htmx, the page with it open otherwise."""
    html = panel.render(_order(order_id), request.user, message=message, error=error)
    if request.htmx:
        return HttpResponse(html, status=status)
    return _page(request, panel=html, status=status)


@require_GET
@never_cache
@dispatchers_only
def order_panel(request: HttpRequest, order_id: uuid.UUID) -> HttpResponse:
    """An order's panel: swapped beside the dashboard by htmx; its own URL opens the dashboard
    with it (a deep link)."""
    return _panel_answer(request, order_id)


def _move(request: HttpRequest, order_id: uuid.UUID, permission: str, done: str, **change: Any) -> HttpResponse:
    order = _order(order_id)
    if not may(request.user, permission, order):
        raise PermissionDenied("Your account may not do that.")
    try:
        services.order_transition(order_id=order.id, **change)
    except DomainError as exc:
        return _panel_answer(request, order_id, error=exc.message, status=exc.status_code)
    return _panel_answer(request, order_id, message=done)


@require_POST
@dispatchers_only
def order_dispatch(request: HttpRequest, order_id: uuid.UUID) -> HttpResponse:
    """Dispatch to the chosen driver, or reassign a dispatched order to another one."""
    raw = request.POST.get("driver_id", "")
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 10):
        return _panel_answer(request, order_id, error="Choose a driver.", status=400)
    # The form says which it meant: a dispatch that finds the order already dispatched by someone
    # else is refused rather than silently taking it from the other dispatcher's driver.
    reassign = request.POST.get("reassign") == "1"
    driver = Driver.objects.filter(pk=int(raw)).first()
    name = driver.name if driver else "the driver"
    return _move(request, order_id, "pd.dispatch_order", f"{'Reassigned' if reassign else 'Dispatched'} to {name}.",
                 to=OrderStatus.DISPATCHED, driver_id=int(raw), reassign=reassign)


@require_POST
@dispatchers_only
def order_cancel(request: HttpRequest, order_id: uuid.UUID) -> HttpResponse:
    code, note = request.POST.get("reason_code", ""), request.POST.get("reason", "").strip()[:255]
    if code not in CancelReason.values:
        return _panel_answer(request, order_id, error="Choose why the order is cancelled.", status=400)
    if code == CancelReason.OTHER and not note:
        return _panel_answer(request, order_id, error="Say why in the note: the reason is “Other”.", status=400)
    return _move(request, order_id, "pd.cancel_order", "Cancelled; the customer was told.",
                 to=OrderStatus.CANCELLED, reason_code=code, reason=note)


@require_POST
@dispatchers_only
def order_deliver(request: HttpRequest, order_id: uuid.UUID) -> HttpResponse:
    """Delivered without the customer's PIN: the reason goes into the event."""
    reason = request.POST.get("reason", "").strip()[:255]
    if not reason:
        return _panel_answer(request, order_id, error="Say why the PIN is waived.", status=400)
    return _move(request, order_id, "pd.deliver_with_reason", "Marked delivered.",
                 to=OrderStatus.DELIVERED, reason=reason)


def fleet_toggle(request: HttpRequest) -> str:
    fleet = FleetSettings.objects.select_related("changed_by").first()
    return render_to_string("statedash/_fleet.html", {"fleet": fleet}, request=request)


@require_http_methods(["GET", "POST"])
@never_cache
@dispatchers_only
def auto_dispatch(request: HttpRequest) -> HttpResponse:
    """The auto-dispatch switch (GET: as it stands, for a dashboard that saw another one flip it);
    POST switches it on or off (the setting every relay's auto-dispatch pass reads)."""
    if request.method == "GET":
        return HttpResponse(fleet_toggle(request))
    enabled = {"1": True, "0": False}.get(request.POST.get("enabled", ""))
    if enabled is None:
        return HttpResponse(fleet_toggle(request), status=400)
    services.auto_dispatch_set(enabled=enabled, user=request.user)
    if not request.htmx:
        return redirect("statedash:dashboard")
    return HttpResponse(fleet_toggle(request))


@require_GET
@never_cache
@dispatchers_only
def dashboard_live(request: HttpRequest) -> HttpResponse:
    """The 5-s poll: out-of-band swaps of what changed since the versions the browser reports."""
    snapshot = fragments.dashboard_snapshot().in_language(get_language())
    answer = fragments.poll_answer(snapshot, fragments.parse_versions(request.GET.getlist("v")))
    return render(request, "statedash/_live.html", {"answer": answer})


@require_GET
@dispatchers_only
def batch_detail(request: HttpRequest, correlation_id: str) -> HttpResponse:
    """Every event of one correlation id: a fragment for htmx, a page otherwise."""
    if not valid_correlation_id(correlation_id):
        raise Http404("No such batch.")
    events = batch_events(correlation_id)
    if not events:
        raise Http404("No such batch.")
    batch = mark_safe(fragments.render_batch(correlation_id, events))
    if request.htmx:
        return HttpResponse(batch)
    return render(request, "statedash/batch_page.html", {"batch": batch, "correlation_id": correlation_id})
