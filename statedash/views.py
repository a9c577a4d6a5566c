"""The dispatcher dashboard (dispatchers and admins) and ``/healthz`` (anyone: a probe)."""
from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_safe

from events.services import valid_correlation_id
from pizzadelivery.policy import may, page_permission
from statedash import fragments, health
from statedash.selectors import batch_events

# Dispatchers and admins; a visitor is sent to log in and comes back after it.
dispatchers_only = page_permission("pd.view_state")


@require_GET
@never_cache
@dispatchers_only
def dashboard(request: HttpRequest) -> HttpResponse:
    snapshot = fragments.dashboard_snapshot()
    return render(request, "statedash/dashboard.html", {
        "snapshot": snapshot,
        "live": fragments.LIVE,
        "fragments": {name: mark_safe(html) for name, html in snapshot.html.items()},
        "feed_rows": mark_safe(snapshot.feed_rows),
        "feed_version": mark_safe(fragments.feed_version_input(snapshot.feed_seq)),
        "time_zone": settings.TIME_ZONE,
    })


@require_GET
@never_cache
@dispatchers_only
def dashboard_live(request: HttpRequest) -> HttpResponse:
    """The 5-s poll: out-of-band swaps of what changed since the versions the browser reports."""
    snapshot = fragments.dashboard_snapshot()
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


@require_safe
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness (answering at all) and each dependency's health; 200 while the process lives,
    so an orchestrator restarts this process only when it is really stuck."""
    checks = health.dependencies()
    status = "up" if health.overall(checks) == health.OK else "degraded"
    if not may(request.user, "pd.view_state"):
        # Anyone may ask (a load balancer's probe); only staff learn what is behind it.
        return JsonResponse({"status": status})
    return JsonResponse({"status": status, "live": True, "checked_at": timezone.now().isoformat(),
                         "dependencies": checks})
