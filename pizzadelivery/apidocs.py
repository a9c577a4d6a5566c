"""What ``/api/schema`` says about the API as a whole: a drf-spectacular postprocessing hook
(``SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]``) that writes the long description from the
lifecycle and the rules themselves (statuses, tracks, who may move what), and documents the
``X-Correlation-ID`` header on every operation."""
from __future__ import annotations

from typing import Any

from django.conf import settings

from events.services import CORRELATION_ID_RE
from pizzadelivery.lifecycle import DELIVERY_TRACK, KITCHEN_TRACK, NOT_CANCELLABLE, OrderStatus
from pizzadelivery.policy import transition_permission
from pizzadelivery.webhooks.serializers import CONST

CORRELATION_HEADER = "X-Correlation-ID"

# Who holds each permission a move needs (pizzadelivery.policy.PERMISSIONS says the same in code).
WHO_HOLDS = {
    "pd.kitchen_step": "the pizzeria's restaurant staff, admins",
    "pd.dispatch_order": "dispatchers, admins (`driver_id` optional: omitted, the nearest available driver)",
    "pd.pick_up_order": "the order's driver, admins",
    "pd.deliver_with_reason": "dispatchers and admins, giving a `reason` (recorded in the event)",
    "pd.cancel_order": "the pizzeria's restaurant staff, dispatchers, admins; the customer with the tracking "
                       "token while the order is `placed`",
}

ROLES = """\
| who | may |
|---|---|
| anyone | `GET /api/restaurants`, menus, `/api/schema`, `/api/docs`, `/healthz` |
| customer (`?token=` from the tracking link) | read that order and its delivery state; cancel it while `placed` |
| restaurant staff | place orders for their pizzerias; list, read and move their orders (kitchen steps, cancel before pickup); their orders' events; webhooks for those events |
| driver | report their own location and shift; list and read the orders assigned to them; pick up |
| dispatcher | every order and driver; place, dispatch, reassign, cancel, deliver with a reason; `/api/state`, `/api/events`; webhooks for every event |
| admin | everything |

An API token (`Authorization: Token <key>`, from `python manage.py drf_create_token <username>`) acts
with its user's role. Without credentials: 401 `not_authenticated`; with a role that may not: 403
`forbidden`. Lists show only what the caller may see."""


def _lifecycle() -> str:
    rows = "\n".join(f"| `{to}` | {'kitchen' if to in KITCHEN_TRACK else 'delivery' if to in DELIVERY_TRACK else '-'} "
                     f"| {WHO_HOLDS.get(transition_permission(to), '-')} |"
                     for to in OrderStatus.values if to != OrderStatus.PLACED)
    return f"""\
Two tracks move independently, because a driver can be sent while the pizza is still in the oven:

- **kitchen:** {' → '.join(f'`{s}`' for s in KITCHEN_TRACK)}
- **delivery:** `dispatched` (a driver assigned; allowed once the order is `confirmed`) → `out_for_delivery`
  (picked up; needs the kitchen at `ready`) → `delivered`
- **`cancelled`** from anywhere before {' / '.join(f'`{s}`' for s in NOT_CANCELLABLE[:1])} (a dispatched driver
  is released in the same change).

An order's `status` is the furthest visible stage: the delivery stage once there is one, else the kitchen stage
(`kitchen_status` and `delivery_status` show each track). Move an order with
`POST /api/orders/{{id}}/transition {{"to": "<status>"}}`; a move the lifecycle does not allow answers 409
`invalid_transition` (with the order's `status` and `kitchen_status`) and changes nothing.

| to | track | who may |
|---|---|---|
{rows}"""


def description() -> str:
    schedule = ", ".join(f"{seconds:g}" for seconds in settings.WEBHOOK_RETRY_SCHEDULE)
    return f"""\
The pizzadelivery marketplace API: pizzerias and menus, orders and their lifecycle, drivers, live delivery
state, the system state, the event feed, and signed webhooks.

## Authentication and roles
{ROLES}

## Order lifecycle
{_lifecycle()}

## Errors
Every error is JSON `{{"error": "<code>", "detail": "<text for a person>"}}` (some add fields, e.g.
`fields` for `invalid_input`, `status` for `invalid_transition`). The codes each operation can return are
listed with its responses. Paths answer with and without a trailing slash, without a redirect. Rate-limited
operations answer 429 `rate_limited` with `Retry-After`.

## Correlation ids
Every change is one batch of events sharing a correlation id. Send `{CORRELATION_HEADER}` (letters, digits and
`._:-`, at most 64) with a request and every event the request causes carries it; the response echoes it
(a new one when none or a malformed one was sent). Find a change's events with
`GET /api/events?correlation_id=...`; webhooks carry it in `data.correlation_id`.

## Lists
Lists are `{{"results": [...], "next": <url or null>}}`: follow `next` until it is null.

## Webhooks
Register an endpoint with `POST /api/webhooks`; each event it subscribes to is POSTed to it, signed the
Standard Webhooks way (`webhook-id`, `webhook-timestamp`, `webhook-signature`). Retries after
{schedule} seconds (`WEBHOOK_RETRY_SCHEDULE`) or `Retry-After`; 410 disables the endpoint. The payload of
every event type is documented as a callback of `POST /api/webhooks`."""


def _correlation_parameter() -> dict[str, Any]:
    return {"in": "header", "name": CORRELATION_HEADER, "required": False,
            "description": "Ties the events this request causes together (echoed in the response).",
            "schema": {"type": "string", "pattern": CORRELATION_ID_RE.pattern}}


def _consts(node: Any) -> None:
    """Write the fixed values of typed webhooks as one-value enums (after drf-spectacular's enum
    hook, which would otherwise name each of them as a shared enum)."""
    if isinstance(node, dict):
        if CONST in node:
            node["enum"] = [node.pop(CONST)]
        for value in node.values():
            _consts(value)
    elif isinstance(node, list):
        for value in node:
            _consts(value)


def postprocess(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    result["info"]["description"] = description()
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            parameters = operation.setdefault("parameters", [])
            if not any(p.get("name") == CORRELATION_HEADER for p in parameters):
                parameters.append(_correlation_parameter())
            for response in operation.get("responses", {}).values():
                response.setdefault("headers", {})[CORRELATION_HEADER] = {
                    "description": "The request's correlation id (the one sent, or a new one).",
                    "schema": {"type": "string"}}
    _consts(result)
    return result
