"""The tracker page: no login, the signed tracking token in the URL is the key."""
from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from pizzadelivery import services
from pizzadelivery.infra.caching import personal
from pizzadelivery.infra.errors import DomainError
from pizzadelivery.lifecycle import CancelReason, OrderStatus
from pizzadelivery.policy import customer_may_cancel, link_expired
from pizzadelivery.tokens import order_id_from_token
from tracking.fragments import LIVE_TEMPLATE, fragment_context
from tracking.selectors import TrackerSnapshot, tracker_snapshot


def _snapshot_for(token: str) -> TrackerSnapshot | None:
    order_id = order_id_from_token(token)
    return tracker_snapshot(order_id) if order_id else None


def _refused(request: HttpRequest, snapshot: TrackerSnapshot | None) -> HttpResponse | None:
    """The page for a link that opens nothing (404) or no longer (403), else None."""
    context = {"hours": settings.TRACKING_LINK_HOURS}
    if snapshot is None:
        return render(request, "tracking/link_not_found.html", context, status=404)
    if link_expired(snapshot.order):
        return render(request, "tracking/link_not_found.html",
                      {**context, "expired": True, "order": snapshot.order}, status=403)
    return None


@personal
@never_cache
@require_GET
def tracker(request: HttpRequest, token: str) -> HttpResponse:
    snapshot = _snapshot_for(token)
    if refused := _refused(request, snapshot):
        return refused
    return render(request, "tracking/tracker.html", {
        **fragment_context(snapshot),
        # The socket's pushes come in the page's language.
        "socket_path": f"/ws/track/{token}/?lang={get_language()}",
        "live_url": reverse("tracking:tracker-live", args=[token]),
        "cancel_url": reverse("tracking:tracker-cancel", args=[token]),
        "tracking_absolute_url": request.build_absolute_uri(reverse("tracking:tracker", args=[token])),
    })


@personal
@never_cache
@require_GET
def tracker_live(request: HttpRequest, token: str) -> HttpResponse:
    """The page's live fragments over HTTP: the resync after a reconnect, and the 5 s poll when
    WebSockets do not work at all."""
    snapshot = _snapshot_for(token)
    if refused := _refused(request, snapshot):
        return refused
    return render(request, LIVE_TEMPLATE, fragment_context(snapshot))


@personal
@never_cache
@require_http_methods(["GET", "POST"])
def tracker_cancel(request: HttpRequest, token: str) -> HttpResponse:
    """The customer cancels their order while it is ``placed``: GET asks to confirm (the page
    without JavaScript; the tracker asks in a dialog), POST cancels and goes back to the tracker."""
    snapshot = _snapshot_for(token)
    if refused := _refused(request, snapshot):
        return refused
    order = snapshot.order
    error, status = "", 200
    if request.method == "POST":
        try:
            services.order_transition(order_id=order["id"], to=OrderStatus.CANCELLED,
                                      reason_code=CancelReason.CUSTOMER_ASKED, by_customer=True)
        except DomainError as exc:  # the kitchen confirmed it meanwhile: the page says so
            error, status = exc.code, exc.status_code
        else:
            return redirect("tracking:tracker", token=token)
    return render(request, "tracking/cancel.html", {
        "order": order, "may_cancel": customer_may_cancel(order) and not error, "error": error,
        "tracker_url": reverse("tracking:tracker", args=[token]),
    }, status=status)
