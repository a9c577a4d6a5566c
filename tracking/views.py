"""The tracker page: no login, the signed tracking token in the URL is the key."""
from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import get_language
from django.views.decorators.cache import never_cache

from pizzadelivery.infra.caching import personal
from django.views.decorators.http import require_GET

from pizzadelivery.policy import link_expired
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
