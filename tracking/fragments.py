"""The tracker's live fragments: one template set, rendered for the page, the HTTP resync and
the WebSocket push alike, so the three can never drift apart."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from django.template.loader import render_to_string
from django.utils.translation import gettext
from django.utils.dateparse import parse_datetime

from pizzadelivery.lifecycle import KITCHEN_AT_WORK, OrderStatus, customer_message
from tracking.selectors import TrackerSnapshot

LIVE_TEMPLATE = "tracking/live.html"


def _dt(value: str | None) -> datetime | None:
    return parse_datetime(value) if value else None


def _step_rows(snapshot: TrackerSnapshot) -> list[dict[str, Any]]:
    """Stepper rows with a display state: ``done``, ``current`` or ``todo``. While a driver heads
    to the shop the kitchen step still at work is current too (both are happening)."""
    order, progress = snapshot.order, snapshot.state["progress"]
    status = order["status"]
    live_keys = {status}
    if status == OrderStatus.DISPATCHED and order["kitchen_status"] in KITCHEN_AT_WORK:
        live_keys.add(order["kitchen_status"])
    rows = []
    for step in progress["steps"]:
        if step["key"] in live_keys and status != OrderStatus.DELIVERED:
            state = "current"
        elif step["reached"]:
            state = "done"
        else:
            state = "todo"
        rows.append({**step, "at": _dt(step["reached_at"]), "state": state})
    if status == OrderStatus.CANCELLED:
        rows.append({"key": "cancelled", "label": "Cancelled", "reached": True, "state": "cancelled",
                     "at": _dt(order["timestamps"].get("cancelled"))})
    return rows


def fragment_context(snapshot: TrackerSnapshot) -> dict[str, Any]:
    state, order = snapshot.state, snapshot.order
    eta = state["eta"]
    distance = state["progress"]["distance_remaining_m"]
    late_minutes = round(eta["error_seconds"] / 60) if eta.get("error_seconds") is not None else None
    driver = None
    if state["driver"]:
        driver = {**state["driver"], "vehicle_label": (snapshot.driver or {}).get("vehicle_label", ""),
                  "initials": "".join(part[:1] for part in state["driver"]["name"].split()[:2]).upper()}
    return {
        "order": order,
        "state": state,
        "status": order["status"],
        "status_label": OrderStatus(order["status"]).label,
        "cancel_message": gettext(customer_message(order.get("cancel_code") or "other")),
        "steps": _step_rows(snapshot),
        "driver": driver,
        "route": snapshot.route,
        "eta_at": _dt(eta["estimated_arrival"]),
        "actual_at": _dt(eta.get("actual_arrival")),
        # Compared with the ETA promised at dispatch: positive late, negative early.
        "late_minutes": late_minutes,
        "early_minutes": -late_minutes if late_minutes is not None and late_minutes < 0 else None,
        "distance_km": None if distance is None else distance / 1000,
        "updated_at": _dt(state["updated_at"]),
        "version": snapshot.version,
        "server_now": snapshot.generated_at,
    }


def render_live(snapshot: TrackerSnapshot) -> str:
    """The live fragments, each marked hx-swap-oob: what the socket pushes and /live/ returns."""
    return render_to_string(LIVE_TEMPLATE, fragment_context(snapshot))
