"""The dashboard's fragments: rendered once per change, shared by the page, the 5-s poll and
the WebSocket push, so the three can never drift.

Each live fragment carries a version (a digest of its HTML) in a hidden input; the poll sends
the versions the browser shows and gets back only the fragments that changed. The feed's
version is the newest event it shows.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.dateparse import parse_datetime
from django.utils.safestring import SafeString, mark_safe

from events import registry
from pizzadelivery.infra.compute_once import compute_once
from pizzadelivery.infra.languages import language_codes
from pizzadelivery.lifecycle import OrderStatus, short_label, tone
from pizzadelivery.models import Driver
from statedash import selectors

# Order of the live fragments on the page (each one's element id is "dash-<name>").
LIVE = ("stats", "chart", "alerts", "queue", "deliveries", "drivers", "health")
FEED_VERSION = "feed"
STATE_SEQ = "seq"  # the last event the shown state includes (carried by the stamp)
# The dashboard may show a state this old when nothing happened since; after any event it is
# recomputed, but not more than once per MIN_AGE (a burst of events costs one computation).
SNAPSHOT_MAX_AGE = 4.0
SNAPSHOT_MIN_AGE = 1.0
# "v2": a snapshot holds every language's rendering; one cached before that is never read back.
SNAPSHOT_KEY = "statedash:dashboard:v2"
QUEUE_LENGTH = 8


def _at(value: str | None) -> datetime | None:
    return parse_datetime(value) if value else None


def _digest(html: str) -> str:
    return hashlib.blake2s(html.encode(), digest_size=8).hexdigest()


# --- the feed ------------------------------------------------------------------------------

@dataclass(frozen=True)
class FeedItem:
    seq: int
    type: str
    tone: str
    correlation_id: str
    order_id: str | None
    order_code: str
    summary: str
    occurred_at: datetime


def describe(event: Any, codes: dict[str, str], names: dict[int, str]) -> str:
    """One line a dispatcher reads at a glance (the event type's own summary, from the
    registry). Plain text: the template escapes it."""
    driver = names.get(event.driver_id, f"driver {event.driver_id}") if event.driver_id is not None else ""
    return registry.summarize(event.type, event.payload, driver=driver)


def feed_items(events: list[Any]) -> list[FeedItem]:
    """Events (stored or just published: same attributes) as feed rows, in the given order."""
    codes = selectors.order_codes(e.order_id for e in events)
    names = selectors.driver_names(e.driver_id for e in events)
    items = []
    for event in events:
        order_id = str(event.order_id) if event.order_id else None
        code = event.payload.get("code") or (codes.get(order_id, "") if order_id else "")
        items.append(FeedItem(event.seq, event.type, registry.tone(event.type), event.correlation_id, order_id, code,
                              describe(event, codes, names), event.occurred_at))
    return items


def render_feed_rows(events: list[Any]) -> str:
    return render_to_string("statedash/_feed_rows.html", {"items": feed_items(events)})


def feed_version_input(seq: int) -> str:
    return render_to_string("statedash/_feed_version.html", {"seq": seq})


def render_batch(correlation_id: str, events: list[Any]) -> str:
    return render_to_string("statedash/_batch.html", {"correlation_id": correlation_id,
                                                      "items": feed_items(events)})


# --- the live fragments --------------------------------------------------------------------

def _status_rows(state: dict[str, Any]) -> list[dict[str, Any]]:
    by_status = state["orders_by_status"]
    peak = max([entry["count"] for entry in by_status.values()] + [1])
    return [{"status": status, "label": short_label(status), "tone": tone(status),
             "count": by_status[status]["count"], "percent": round(100 * by_status[status]["count"] / peak, 1),
             # the bar's width as a class (pct-0 .. pct-100 in app.css): the CSP allows no inline style
             "width": round(100 * by_status[status]["count"] / peak)}
            for status in OrderStatus.values]


def _hour_bars(state: dict[str, Any]) -> list[dict[str, Any]]:
    hours = state["stats"]["orders_by_hour"]
    peak = max([h["count"] for h in hours] + [1])
    bar_width, gap, height = 22, 6, 64
    bars = []
    for n, hour in enumerate(hours):
        h = round(height * hour["count"] / peak, 1) if hour["count"] else 0
        x = n * (bar_width + gap)
        bars.append({"x": x, "y": height - h, "height": h, "width": bar_width, "count": hour["count"],
                     "hour": _at(hour["hour"]), "label_x": x + bar_width / 2, "count_y": height - h - 3})
    return bars


def _queue(waiting: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    rows = []
    for order in waiting:
        created = _at(order["created_at"])
        rows.append({**order, "tone": tone(order["status"]), "label": short_label(order["status"]),
                     "waiting_minutes": int((now - created).total_seconds() // 60) if created else None})
    return rows


def _route(driver: dict[str, Any]) -> str:
    """A delivery's points for the map on real tiles (static/js/route-map.js): the way still to go."""
    job = driver["current_assignment"]
    shop = [job["restaurant_location"]["lat"], job["restaurant_location"]["lng"]]
    home = [job["destination"]["lat"], job["destination"]["lng"]]
    here = [driver["location"]["lat"], driver["location"]["lng"]] if driver.get("location") else None
    remaining = ([here, shop, home] if job["stage"] == "dispatched" else [here, home]) if here else [shop, home]
    return json.dumps({"restaurant": shop, "destination": home, "driver": here, "travelled": [],
                       "remaining": remaining})
def vehicle_label(vehicle: str | None) -> str:
    """A vehicle as the page's language names it (the state carries its code)."""
    if vehicle not in Driver.Vehicle.values:
        return (vehicle or "").capitalize()
    return gettext(Driver.Vehicle(vehicle).label)


def _deliveries(state: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
    rows = []
    for driver in state["drivers"]:
        job = driver["current_assignment"]
        if job is None:
            continue
        eta = _at(job["estimated_arrival"])
        rows.append({"driver": driver, "job": job, "eta": eta, "tone": tone(job["stage"]), "geo_json": _route(driver),
                     "vehicle": vehicle_label(driver.get("vehicle")),
                     "stage_label": short_label(job["stage"]),
                     "kitchen_label": short_label(job["kitchen_status"]),
                     "late": bool(eta and eta < now)})
    return sorted(rows, key=lambda r: (r["eta"] is None, r["eta"] or now))


def _health_rows(state: dict[str, Any]) -> list[dict[str, Any]]:
    health = state["health"]
    redis, relay, sockets = health["redis"], health["relay"], health["websockets"]

    def ms(check: dict[str, Any]) -> str:
        # Coarse on purpose: a fragment that changes on every check would be re-sent every time.
        latency = check.get("latency_ms")
        if latency is None:
            return gettext("unreachable")
        return "< 10 ms" if latency < 10 else f"{round(latency, -1):.0f} ms"

    age = relay["oldest_pending_age_seconds"]
    if relay["pending_batches"] is None:
        relay_detail = gettext("unknown")
    elif relay["pending_batches"] == 0:
        relay_detail = gettext("outbox empty")
    else:  # the count and the oldest are read apart: the oldest may be gone already
        relay_detail = gettext("%(count)s waiting") % {"count": relay["pending_batches"]} + (
            gettext(", oldest %(seconds)s s") % {"seconds": f"{age:.0f}"} if age is not None else "")
    if sockets["open"] is None:
        socket_detail = gettext("count unavailable")
    else:
        kinds = ", ".join(f"{n} {kind}" for kind, n in sockets["by_kind"].items() if n)
        socket_detail = gettext("%(count)s open") % {"count": sockets["open"]} + (f" ({kinds})" if kinds else "")
    redis_detail = ms(redis) if redis["status"] != "degraded" else f"{ms(redis)} · {gettext('mirror rebuilding')}"
    return [
        {"name": gettext("Database"), "status": health["database"]["status"], "detail": ms(health["database"])},
        {"name": "Redis", "status": redis["status"], "detail": redis_detail},
        {"name": gettext("Channel layer"), "status": health["channel_layer"]["status"], "detail": ms(health["channel_layer"])},
        {"name": gettext("Relay backlog"), "status": relay["status"], "detail": relay_detail},
        {"name": "WebSockets", "status": sockets["status"], "detail": socket_detail},
    ]


def _context(state: dict[str, Any], waiting: list[dict[str, Any]], alerts: list[Any]) -> dict[str, Any]:
    now = _at(state["generated_at"]) or timezone.now()
    stats = state["stats"]
    drivers = state["drivers"]
    return {
        "state": state, "stats": stats, "now": now,
        "status_rows": _status_rows(state), "hour_bars": _hour_bars(state),
        "chart_width": len(stats["orders_by_hour"]) * 28 - 6,
        "queue": _queue(waiting, now), "alerts": alerts, "deliveries": _deliveries(state, now),
        "available": [{**d, "vehicle_name": vehicle_label(d.get("vehicle"))} for d in drivers
                      if d["status"] == Driver.Status.AVAILABLE],
        "busy_count": sum(d["status"] == Driver.Status.BUSY for d in drivers),
        "health_rows": _health_rows(state),
        "in_kitchen": stats["active_orders"] - stats["active_deliveries"],
        "on_time_percent": None if stats["on_time_rate"] is None else round(100 * stats["on_time_rate"]),
        "eta": _eta_figures(stats["eta_accuracy"]),
        "time_zone": stats["time_zone"],
    }


def _eta_figures(accuracy: dict[str, Any]) -> dict[str, float | None]:
    mae, bias = accuracy["mean_absolute_error_seconds"], accuracy["mean_error_seconds"]
    return {"mae_minutes": None if mae is None else mae / 60,
            "bias_minutes": None if bias is None else bias / 60,
            "bias_early": None if bias is None else -bias / 60}


def render_live(state: dict[str, Any], waiting: list[dict[str, Any]], seq: int,
                alerts: list[Any] = ()) -> tuple[dict[str, str], dict[str, str]]:
    """(fragment name -> HTML ready to swap, fragment name -> version), from one state (with
    its orders waiting for a driver and its alerts) that holds every event up to ``seq``."""
    context = _context(state, waiting, list(alerts))
    html, versions = {}, {}
    for name in LIVE:
        inner = render_to_string(f"statedash/_{name}.html", context)
        versions[name] = _digest(inner)
        html[name] = render_to_string("statedash/_fragment.html", {
            "name": name, "version": versions[name], "inner": mark_safe(inner)})  # rendered, escaped above
    html["stamp"] = render_to_string("statedash/_stamp.html", {
        "state": state, "generated": _at(state["generated_at"]), "seq": seq, "seq_version": STATE_SEQ})
    return html, versions


@dataclass(frozen=True)
class Rendered:
    """One language's rendering of a snapshot."""

    html: dict[str, str]
    versions: dict[str, str]
    feed_rows: str


@dataclass(frozen=True)
class Snapshot:
    """Everything the dashboard shows, rendered (in the default language; ``in_language`` gives
    the others). Cached and shared by all dashboards."""

    seq: int
    generated_at: str
    computed: float  # epoch seconds
    html: dict[str, str]
    versions: dict[str, str]
    feed_seq: int
    feed_rows: str
    languages: dict[str, Rendered] = field(default_factory=dict)

    def fragments(self, names: list[str]) -> list[SafeString]:
        return [mark_safe(self.html[name]) for name in names]

    def in_language(self, language: str) -> Snapshot:
        """The same state rendered in ``language`` (the default one when it has none)."""
        rendered = self.languages.get(language)
        if rendered is None:
            return self
        return replace(self, html=rendered.html, versions=rendered.versions, feed_rows=rendered.feed_rows)


def build_snapshot() -> Snapshot:
    # The sequence is read first: the state then holds at least everything up to it.
    seq = selectors.latest_event_seq()
    state = selectors.system_state()
    events = selectors.feed_events()
    waiting = selectors.waiting_orders(limit=QUEUE_LENGTH)
    alerts = selectors.alerts(now=_at(state["generated_at"]))
    languages = {}
    for language in language_codes():  # one state, rendered once per language
        with translation.override(language):
            html, versions = render_live(state, waiting, seq, alerts)
            languages[language] = Rendered(html, versions, render_feed_rows(events))
    default = languages[settings.LANGUAGE_CODE]
    return Snapshot(seq=seq, generated_at=state["generated_at"], computed=timezone.now().timestamp(),
                    html=default.html, versions=default.versions, feed_seq=events[0].seq if events else 0,
                    feed_rows=default.feed_rows, languages=languages)


def refresh_snapshot() -> tuple[Snapshot, Snapshot | None]:
    """Compute a snapshot now and share it; returns it with the one it replaces (if any)."""
    shared = caches["default"]
    previous = shared.get(SNAPSHOT_KEY)
    snapshot = build_snapshot()
    shared.set(SNAPSHOT_KEY, snapshot, timeout=SNAPSHOT_MAX_AGE)
    return snapshot, previous if isinstance(previous, Snapshot) else None


def dashboard_snapshot() -> Snapshot:
    """The dashboard's state, never older than SNAPSHOT_MAX_AGE, and recomputed (at most
    once per SNAPSHOT_MIN_AGE) as soon as an event was published after it."""
    seq = selectors.latest_event_seq()

    def fresh(snapshot: Snapshot) -> bool:
        age = timezone.now().timestamp() - snapshot.computed
        return age < SNAPSHOT_MIN_AGE or (snapshot.seq >= seq and age < SNAPSHOT_MAX_AGE)

    return compute_once(SNAPSHOT_KEY, build_snapshot, seconds=SNAPSHOT_MAX_AGE, fresh=fresh)


def parse_versions(values: list[str]) -> dict[str, str]:
    """The versions a browser reported (``name:version`` pairs); junk is ignored."""
    found = {}
    for value in values[:20]:
        name, _, version = value.partition(":")
        if name and version and len(version) <= 32:
            found[name] = version
    return found


def _seq(value: str | None) -> int:
    return int(value) if value and value.isascii() and value.isdigit() and len(value) <= 18 else 0


@dataclass(frozen=True)
class PollAnswer:
    fragments: list[SafeString]
    stamp: SafeString | None
    feed_rows: SafeString | None
    feed_version: SafeString | None


def poll_answer(snapshot: Snapshot, shown: dict[str, str]) -> PollAnswer:
    """What a polling browser lacks. Nothing when it already shows a newer state than this
    snapshot (a push overtook it): a poll must never take the page back in time. The feed is
    sent whole, and only when the browser's newest row is older than the snapshot's."""
    if _seq(shown.get(STATE_SEQ)) > snapshot.seq:
        return PollAnswer([], None, None, None)
    changed = [name for name in LIVE if shown.get(name) != snapshot.versions[name]]
    feed_behind = _seq(shown.get(FEED_VERSION)) < snapshot.feed_seq
    return PollAnswer(
        fragments=snapshot.fragments(changed),
        stamp=mark_safe(snapshot.html["stamp"]),
        feed_rows=mark_safe(snapshot.feed_rows) if feed_behind else None,
        feed_version=mark_safe(feed_version_input(snapshot.feed_seq)) if feed_behind else None,
    )
