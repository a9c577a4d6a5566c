"""Bad input: malformed, oversized and injection-shaped ids, tokens and bodies, wrong JSON types,
out-of-range coordinates, huge quantities and deep nesting.

Every answer is a clear refusal: a 4xx with JSON ``{"error", "detail"}`` on API paths, an HTML
4xx page elsewhere, an accepted-then-closed 4xxx on sockets. No header is injected, and nothing
changes: not a row of any table, not a key of the Redis mirror, not an event in the stream.
Each test sends every input of its family and reports all the wrong answers at once.
"""
from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.core import signing
from django.http import HttpResponse
from rest_framework.test import APIClient

from pizzadelivery.asgi import application
from pizzadelivery.services import MAX_LINES
from pizzadelivery.tokens import SALT
from tests.system.conftest import ORIGIN, World, browser_client, error_problem

pytestmark = pytest.mark.django_db(transaction=True)

KB, MB = 1024, 1024 * 1024

# Raw values, percent-encoded into URLs as a browser or curl sends them (bytes: not UTF-8).
HOSTILE_IDS: list[str | bytes] = [
    "", "abc", "0", "-1", "1.5", "1e3", "0x1f", "+1", " 1", "\u0661", "99999999999999999999", "2147483648",
    "9" * 5000, "a" * 5000,
    "' OR '1'='1", "1; DROP TABLE pizzadelivery_order; --", "1 UNION SELECT password FROM auth_user",
    "../../etc/passwd", "..", "%2e%2e%2f", "....//....//etc/passwd", "/etc/passwd", "..\\..\\windows\\win.ini",
    "\x00", "1\x00", "\x00" * 8, "\r\nSet-Cookie: pwned=1", "\nX-Injected: yes",
    "<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "{{7*7}}", "${jndi:ldap://x/a}", "%s%n",
    "\U0001f355", "\u00fcn\u00efc\u00f6d\u00e9", "\u202e1", b"\xed\xa0\x80", b"\xff\xfe", b"\xc0\xaf",
    "{12345678-1234-5678-1234-567812345678}", "urn:uuid:12345678-1234-5678-1234-567812345678",
    "12345678-1234-5678-1234-5678123456789", "12345678-1234-5678-1234-56781234567g",
]

# Id-bearing API operations, each with a body that would be accepted for a real id.
ID_ENDPOINTS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/orders/{}", None),
    ("GET", "/api/orders/{}/", None),
    ("GET", "/api/orders/{}/delivery", None),
    ("POST", "/api/orders/{}/transition", {"to": "cancelled"}),
    ("POST", "/api/drivers/{}/location", {"lat": 52.52, "lng": 13.40}),
    ("POST", "/api/drivers/{}/status", {"status": "offline"}),
    ("GET", "/api/restaurants/{}/menu", None),
]


def encode(raw: str | bytes) -> str:
    return quote(raw, safe="")


def send(client: APIClient, method: str, path: str, body: Any = None, content_type: str = "application/json"
         ) -> HttpResponse:
    if method == "GET":
        return client.get(path)
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.generic(method, path, data, content_type=content_type)


def injected(response: HttpResponse) -> str | None:
    """A header or cookie smuggled in through CR/LF in the input."""
    for name, value in response.items():
        if name.lower() == "x-injected" or "pwned" in value:
            return f"injected header {name}: {value}"
    if "pwned" in response.cookies:
        return "injected cookie"
    return None


def reflected(response: HttpResponse) -> str | None:
    """Hostile markup echoed back unescaped."""
    body = response.content.decode(errors="replace")
    for raw in ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>"):
        if raw in body:
            return f"reflects {raw!r} unescaped"
    return None


def refusals(requests: Iterable[tuple[str, Callable[[], HttpResponse]]], *, json_api: bool = True,
             statuses: tuple[int, ...] = ()) -> list[str]:
    """Send each request; list every answer that is not a clear refusal."""
    problems = []
    for label, request in requests:
        response = request()
        problem = (error_problem(response, json=json_api, statuses=statuses) or injected(response)
                   or reflected(response))
        if problem:
            problems.append(f"{label[:120]}: {problem}")
    return problems


# --- ids in API paths --------------------------------------------------------------------------

def test_hostile_ids_in_every_id_bearing_api_path(integrator: APIClient, world: World, unchanged) -> None:
    requests = [(f"{method} {template.format(encode(raw))}",
                 lambda m=method, p=template.format(encode(raw)), b=body: send(integrator, m, p, b))
                for method, template, body in ID_ENDPOINTS for raw in HOSTILE_IDS
                if not (raw == "" and template.rstrip("/") == "/api/orders/{}")]  # that is GET /api/orders
    with unchanged():
        assert_refused(requests)


def test_well_formed_ids_of_nothing_are_404(integrator: APIClient, world: World, unchanged) -> None:
    missing_order, missing_number = str(uuid.uuid4()), "2147483647"
    requests = [(f"{method} {template}", lambda m=method, t=template, b=body: send(
                    integrator, m, t.format(missing_order if "orders" in t else missing_number), b))
                for method, template, body in ID_ENDPOINTS]
    with unchanged():
        assert_refused(requests, statuses=(404,))


def test_hostile_query_parameters_of_the_event_feed(integrator: APIClient, world: World) -> None:
    values = {
        "after": ["-1", "abc", "1.5", "10" * 30, "\x00", "1 OR 1=1"],
        "limit": ["0", "501", "-5", "abc", "9" * 5000],
        "order_id": [raw for raw in HOSTILE_IDS if raw],
        "correlation_id": ["a" * 65, "\x00", "<script>alert(1)</script>", "a b", "../../x", b"\xff"],
    }
    requests = [(f"?{name}={value!r}", lambda q=urlencode({name: value}): integrator.get(f"/api/events?{q}"))
                for name, raws in values.items() for value in raws]
    assert_refused(requests, statuses=(400,))


# --- tracking tokens -----------------------------------------------------------------------------

def forged_tokens(world: World) -> list[str]:
    """Tokens that look right but were not issued for this order by this server."""
    real, other = world.token("dispatched"), world.token("placed")
    order_hex = world.orders["dispatched"].id.hex
    return [
        real[:-1] + ("A" if real[-1] != "A" else "B"),               # signature altered
        real + "x", real.upper(), real[: len(real) // 2],            # extended, case-changed, cut
        signing.dumps(order_hex),                                     # right key, wrong salt
        signing.dumps(order_hex, salt=SALT, key="not-the-secret-key"),  # wrong key
        other.split(":")[0] + ":" + real.split(":", 1)[1],           # another order's payload, this one's signature
        order_hex, str(world.orders["dispatched"].id),                # the bare order id
        signing.dumps({"order": order_hex}, salt=SALT),               # signed, not a uuid
    ]


def test_hostile_and_forged_tokens_open_nothing(stranger: APIClient, world: World, unchanged) -> None:
    order_id = world.orders["dispatched"].id
    tokens = [encode(raw) for raw in HOSTILE_IDS if raw] + [encode(t) for t in forged_tokens(world)]
    api_requests = [(f"{path}?token={token}", lambda p=path, t=token: stranger.get(f"{p}?token={t}"))
                    for token in tokens for path in (f"/api/orders/{order_id}", f"/api/orders/{order_id}/delivery")]
    page_requests = [(path.format(token), lambda p=path.format(token): browser_client().get(p))
                     for token in tokens for path in ("/track/{}/", "/track/{}/live/", "/orders/{}/confirmed/")]
    with unchanged():
        problems = refusals(api_requests, statuses=(400, 401, 403))  # 400: malformed, e.g. NUL
        problems += refusals(page_requests, json_api=False, statuses=(400, 404))
        assert not problems, "\n".join(problems)


async def closed_with(path: str) -> int | str:
    """The 4xxx code a socket on ``path`` is closed with, or what happened instead."""
    communicator = WebsocketCommunicator(application, path, headers=[ORIGIN])
    try:
        connected, _ = await communicator.connect(timeout=3)
    except Exception as exc:  # the ASGI app raised: a server answers that handshake with a 500
        return f"the app raised {exc!r}"
    if not connected:
        return "refused the handshake (browsers see 1006 and retry)"
    message = await communicator.receive_output(timeout=3)
    await communicator.disconnect(timeout=1)
    return message.get("code", message) if message["type"] == "websocket.close" else f"sent {message!r}"


@pytest.mark.usefixtures("close_worker_connections")
async def test_hostile_and_forged_tokens_close_the_tracker_socket(world: World) -> None:
    tokens = [encode(raw) for raw in HOSTILE_IDS if raw] + [encode(t) for t in forged_tokens(world)]
    problems = []
    for token in tokens:
        code = await closed_with(f"/ws/track/{token}/")
        if not (isinstance(code, int) and 4000 <= code < 5000):
            problems.append(f"/ws/track/{token[:60]}/: {code}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", ["/ws/track/a/b/", "/ws/track//", "/ws/track/../../etc/passwd/",
                                  "/ws/dashboard/x/", "/ws/", "/ws/nothing-here/"])
async def test_unknown_socket_paths_are_closed_4004(path: str, transactional_db) -> None:
    """A socket path no route matches (a token with a slash in it, say) is a 4004 close, like a
    bad token, not an exception in the ASGI app (a 500 on the handshake)."""
    assert await closed_with(path) == 4004


# --- request bodies ------------------------------------------------------------------------------

def order_body(world: World, **overrides: Any) -> dict[str, Any]:
    body = {"restaurant": world.restaurant.id, "items": [{"menu_item": world.items[0].id, "quantity": 2}],
            "customer": {"name": "Ada Lovelace", "phone": "+49 30 1234567"},
            "delivery_address": {"text": "Torstraße 1", "lat": 52.53, "lng": 13.41}, "notes": ""}
    return {**body, **overrides}


def deep(depth: int, leaf: str = "1") -> str:
    return "[" * depth + leaf + "]" * depth


def deep_object(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


# Bodies that are not JSON objects, not JSON at all, or too big, as raw text.
MALFORMED = ["[]", '"order"', "1", "null", "true", "", " ", "{", '{"restaurant": 1,', "{'restaurant': 1}",
             '{"restaurant": 1,}', '{"restaurant": NaN}', '{"restaurant": Infinity}', '{"restaurant": 1e999}',
             "\ufeff{}", "\x00", "{}" * 1000, "x" * 10 * KB, "x" * MB, " " * MB + "{}", deep(50)]


def assert_refused(requests: Iterable[tuple[str, Callable[[], HttpResponse]]], **options: Any) -> None:
    """Every request is clearly refused (``refusals``); all the problems are listed at once."""
    problems = refusals(requests, **options)
    assert not problems, "\n".join(problems)


def labelled(bodies: Iterable[Any]) -> list[tuple[str, Any]]:
    """Bodies for ``body_requests``, each labelled by the start of its JSON."""
    return [(json.dumps(body)[:80], body) for body in bodies]


def body_requests(client: APIClient, path: str, bodies: Iterable[tuple[str, Any]]
                  ) -> list[tuple[str, Callable[[], HttpResponse]]]:
    return [(f"POST {path} {label}", lambda b=body: send(client, "POST", path, b)) for label, body in bodies]


def malformed(valid: dict[str, Any]) -> list[tuple[str, Any]]:
    text = json.dumps(valid)
    return ([(f"malformed {raw[:30]!r} ({len(raw)} chars)", raw) for raw in MALFORMED]
            + [("invalid UTF-8", text.encode()[:-1] + b'\xff"}'), ("UTF-16", text.encode("utf-16")),
               ("1 MB of notes", {**valid, "notes": "x" * MB}), ("1 MB of padding", text + " " * MB)])


def test_order_creation_refuses_bad_bodies(integrator: APIClient, world: World, unchanged, settings) -> None:
    settings.RATELIMIT_ENABLE = False
    item = world.items[0].id

    def line(quantity: Any) -> dict[str, Any]:
        return {"items": [{"menu_item": item, "quantity": quantity}]}

    def address(**value: Any) -> dict[str, Any]:
        return {"delivery_address": {"text": "Torstraße 1", "lat": 52.53, "lng": 13.41, **value}}

    def customer(**value: Any) -> dict[str, Any]:
        return {"customer": {"name": "Ada", "phone": "+49 30 1234567", **value}}

    overrides: list[dict[str, Any]] = [
        # wrong JSON types
        *({"restaurant": value} for value in ("1", 1.0, 1.5, True, None, [], {}, "1 OR 1=1")),
        *({"items": value} for value in ({}, "x", 1, [1], [[]], [None], [{}], None)),
        *(line(value) for value in ("2", 2.5, True, None, [2], {"n": 2})),
        {"items": [{"menu_item": str(item), "quantity": 1}]}, {"items": [{"menu_item": None, "quantity": 1}]},
        *({"customer": value} for value in (None, "Ada", [], 1)),
        *({"delivery_address": value} for value in (None, "Torstraße 1", [52.5, 13.4])),
        *(address(lat=value) for value in ("52.53", None, True, [52.53], {"v": 1})),
        {"notes": ["x"]}, {"notes": {"x": 1}},
        # out of range: ids, quantities, coordinates
        *({"restaurant": value} for value in (0, -1, 2**31, 2**63, 10**400)),
        *(line(value) for value in (0, -1, 51, 10**6, 2**31, 2**63, 10**400)),
        *({"items": [{"menu_item": value, "quantity": 1}]} for value in (0, -1, 2**31, 2**63, 10**400)),
        {"items": [{"menu_item": item, "quantity": 1}] * (MAX_LINES + 1)},
        {"items": [{"menu_item": item, "quantity": 1}] * 2000},
        *(address(lat=value) for value in (90.000001, -90.5, 1e308, -1e308)),
        *(address(lng=value) for value in (180.000001, -181, 1e308)),
        address(lat=0, lng=0),  # far outside the delivery area
        # text: too long, control characters, lone surrogates
        customer(name=""), customer(name="x" * 121), customer(name="A\x00da"), customer(name="\ud800"),
        customer(phone="<script>alert(1)</script>"), customer(phone="1" * 40), customer(phone="+49\r\n30 1"),
        address(text=""), address(text="x" * 256), address(text="Tor\x00straße 1"),
        {"notes": "x" * 10 * KB}, {"notes": "\udfff"},
        # closed pizzeria, sold-out dish, another pizzeria's dish
        {"restaurant": world.closed.id},
        {"items": [{"menu_item": world.sold_out.id, "quantity": 1}]},
        {"items": [{"menu_item": world.closed.menu_items.get().id, "quantity": 1}]},
    ]
    missing = [{key: value for key, value in order_body(world).items() if key != name}
               for name in ("restaurant", "items", "customer", "delivery_address")]
    bodies = ([(f"{json.dumps(o)[:80]}", order_body(world, **o)) for o in overrides]
              + [(f"without {set(order_body(world)) - set(m)}", m) for m in missing] + malformed(order_body(world)))
    requests = body_requests(integrator, "/api/orders", bodies)
    requests += [(f"POST /api/orders as {content_type}", lambda c=content_type: send(
                     integrator, "POST", "/api/orders", urlencode({"restaurant": world.restaurant.id}), c))
                 for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                                      "application/xml", "application/json-patch+json", "")]
    with unchanged():
        assert_refused(requests)


def test_transitions_refuse_bad_bodies(integrator: APIClient, world: World, unchanged) -> None:
    placed = world.orders["placed"].id
    free = world.free_drivers[0].id
    bodies: list[dict[str, Any]] = [
        {}, {"to": None}, {"to": 5}, {"to": ["cancelled"]}, {"to": {"status": "cancelled"}}, {"to": "CANCELLED"},
        {"to": "cancelled\x00"}, {"to": "cancelled; DROP TABLE pizzadelivery_order"}, {"to": "x" * 10 * KB},
        {"to": "cancelled", "reason": "x" * 10 * KB}, {"to": "cancelled", "reason": ["x"]},
        {"to": "cancelled", "reason": "\ud800"},
        *({"to": "dispatched", "driver_id": value} for value in ("1", str(free), True, 1.5, -1, 0, 2**31, 10**400,
                                                                [free])),
        {"to": "dispatched", "driver_id": 2147483647},  # no such driver
        *({"to": illegal} for illegal in ("placed", "ready", "out_for_delivery", "delivered")),  # from placed
    ]
    requests = body_requests(integrator, f"/api/orders/{placed}/transition",
                             labelled(bodies) + malformed({"to": "cancelled"}))
    with unchanged():
        assert_refused(requests)


def test_location_updates_refuse_bad_coordinates(integrator: APIClient, world: World, unchanged, settings) -> None:
    settings.RATELIMIT_ENABLE = False
    driver = world.free_drivers[0].id
    valid = {"lat": 52.52, "lng": 13.40}
    bodies: list[dict[str, Any]] = [
        {}, {"lat": 52.52}, {"lng": 13.40},
        *({**valid, "lat": value} for value in (90.000001, -90.000001, 91, 1e308, -1e308, 10**400,
                                                 "52.52", None, True, [52.52], {"v": 52.52})),
        *({**valid, "lng": value} for value in (180.000001, -180.000001, 1e308, "13.4", None, False)),
        *({**valid, "heading": value} for value in (360, -1, 1e308, "north", True, [0])),
        *({**valid, "speed_kmh": value} for value in (251, -1, 1e308, "fast", True)),
    ]
    raw = ['{"lat": NaN, "lng": 13.4}', '{"lat": 52.5, "lng": Infinity}', '{"lat": -Infinity, "lng": 0}']
    requests = body_requests(integrator, f"/api/drivers/{driver}/location",
                             labelled(bodies) + [(r, r) for r in raw] + malformed(valid))
    with unchanged():
        assert_refused(requests)


def test_driver_status_refuses_bad_bodies(integrator: APIClient, world: World, unchanged) -> None:
    busy = world.orders["dispatched"].driver_id
    free = world.free_drivers[0].id
    bodies = [{}, {"status": "busy"}, {"status": "AVAILABLE"}, {"status": 1}, {"status": None}, {"status": []},
              {"status": "available\x00"}, {"status": "x" * 10 * KB}]
    requests = body_requests(integrator, f"/api/drivers/{free}/status",
                             labelled(bodies) + malformed({"status": "offline"}))
    requests += body_requests(integrator, f"/api/drivers/{busy}/status", [("busy, offline", {"status": "offline"})])
    with unchanged():
        assert_refused(requests)


@pytest.mark.parametrize("shape", ["array", "object", "inside a field"])
@pytest.mark.parametrize("depth", [1_000, 5_000, 30_000])
def test_deeply_nested_json_is_refused_not_a_server_error(integrator: APIClient, world: World, unchanged, shape: str,
                                                           depth: int) -> None:
    """Python's JSON decoder recurses once per level: nesting deeper than the interpreter's
    recursion limit raises RecursionError, which must become a 400, not a 500. (30,000 levels
    still fit in the 64 kB body limit.)"""
    body = {"array": deep(depth), "object": deep_object(depth),
            "inside a field": json.dumps(order_body(world, notes="NEST"))[:-1].replace('"NEST"', deep(depth)) + "}"
            }[shape]
    paths = ["/api/orders", f"/api/orders/{world.orders['placed'].id}/transition",
             f"/api/drivers/{world.free_drivers[0].id}/location", f"/api/drivers/{world.free_drivers[0].id}/status"]
    # Deeper than the decoder recurses: 400; a body past MAX_BODY_BYTES is refused before parsing, 413.
    size = len(body if isinstance(body, str) else json.dumps(body))
    expected = (413,) if size > django_settings.MAX_BODY_BYTES else (400,)
    with unchanged():
        assert_refused([(f"POST {path}", lambda p=path: send(integrator, "POST", p, body)) for path in paths],
                       statuses=expected)


# --- pages and forms -----------------------------------------------------------------------------

def test_hostile_ids_in_page_paths(world: World, staff, unchanged) -> None:
    dispatcher = browser_client(staff)
    slug = world.restaurant.slug
    paths = ["/track/{}/", "/track/{}/live/", "/orders/{}/confirmed/", "/restaurants/{}/", "/dashboard/batches/{}/"]
    requests = [(path.format(encode(raw)), lambda p=path.format(encode(raw)): dispatcher.get(p))
                for path in paths for raw in HOSTILE_IDS if raw]
    posts = [f"/restaurants/{{}}/{action}/" for action in ("cart/add", "cart/update", "checkout")]
    requests += [(f"POST {path.format(encode(raw))}", lambda p=path.format(encode(raw)): dispatcher.post(
                     p, {"item": world.items[0].id, "quantity": 1}))
                 for path in posts for raw in HOSTILE_IDS if raw and raw != slug]
    with unchanged():
        assert_refused(requests, json_api=False, statuses=(400, 404))


def test_storefront_forms_refuse_bad_input(world: World, unchanged, settings) -> None:
    settings.RATELIMIT_ENABLE = False
    customer = browser_client()
    menu = f"/restaurants/{world.restaurant.slug}"
    cart_inputs = [{"item": value, "quantity": 1} for value in ("", "abc", "-1", "1.5", "\x00", "1 OR 1=1",
                                                                 "<script>alert(1)</script>", "9" * 5000)]
    cart_inputs += [{"item": world.items[0].id, "quantity": value} for value in ("-1", "51", "9" * 30, "abc", "1e3")]
    cart_inputs += [{"item": value, "quantity": 1} for value in (world.sold_out.id, world.closed.menu_items.get().id,
                                                                 2**31, 2**63, 10**30)]
    requests = [(f"POST {action} {str(data)[:80]}", lambda a=action, d=data: customer.post(f"{menu}/{a}/", d))
                for action in ("cart/add", "cart/update") for data in cart_inputs]
    with unchanged():
        problems = refusals(requests, json_api=False)

    assert customer.post(f"{menu}/cart/add/", {"item": world.items[0].id, "quantity": 2}).status_code == 302
    good = {"name": "Ada Lovelace", "phone": "+49 30 1234567", "address": "Torstraße 1", "district": "mitte",
            "notes": ""}
    checkouts = [{**good, field: value} for field, values in {
        "name": ["", " ", "x", "x" * 121, "Ada\x00"], "phone": ["", "abc", "<script>alert(1)</script>", "1" * 40],
        "address": ["", "Torstraße", "x" * 201, "\x00 1"], "district": ["", "atlantis", "../../etc/passwd"],
        "notes": ["x" * 301],
    }.items() for value in values]
    checkouts += [{**good, "notes": "x" * 70 * KB}, {}]
    requests = [(f"POST checkout {str(data)[:80]}", lambda d=data: customer.post(f"{menu}/checkout/", d))
                for data in checkouts]
    requests += [(f"POST checkout (htmx) {str(data)[:80]}", lambda d=data: customer.post(
                     f"{menu}/checkout/", d, headers={"HX-Request": "true"})) for data in checkouts[:3]]
    with unchanged():
        problems += refusals(requests, json_api=False)
        assert not problems, "\n".join(problems)


def test_admin_survives_hostile_ids_and_queries(world: World, unchanged) -> None:
    """The admin answers a missing object with a redirect and a message (Django's way), so here
    the bar is: no 5xx, nothing reflected unescaped, nothing changed."""
    admin = browser_client(User.objects.create_superuser("admin", password="pw-for-tests-only"))
    paths = [f"/admin/pizzadelivery/{model}/{encode(raw)}/change/"
             for model in ("order", "driver", "restaurant", "menuitem") for raw in HOSTILE_IDS if raw]
    paths += [f"/admin/pizzadelivery/{model}/?{parameter}={encode(raw)}" for model in ("order", "driver")
              for parameter in ("q", "status") for raw in HOSTILE_IDS]
    placed = world.orders["placed"].id
    posts = [(f"/admin/pizzadelivery/order/{encode(raw)}/transition/", {"to": "cancelled"})
             for raw in HOSTILE_IDS if raw]
    posts += [(f"/admin/pizzadelivery/order/{placed}/transition/", {"to": to})
              for to in ("", "<script>alert(1)</script>", "CANCELLED", "cancelled\x00", "x" * 10 * KB)]
    problems = []
    with unchanged():
        responses = [(path, admin.get(path, follow=True)) for path in paths]
        responses += [(f"POST {path} {data}"[:100], admin.post(path, data, follow=True)) for path, data in posts]
        for label, response in responses:
            if response.status_code >= 500 or reflected(response):
                problems.append(f"{label}: {response.status_code} {reflected(response) or ''}")
        assert not problems, "\n".join(problems)
