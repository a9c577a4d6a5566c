"""Access: tracking tokens open their own order only; guessing gets nothing; refused sockets are
accepted then closed with a 4xxx code; the dispatcher's surfaces are staff (or integrator) only;
every form is CSRF-protected; the busy endpoints are rate limited with 429 JSON and Retry-After.

(Secrets from the environment and ``check --deploy`` are covered by tests/pizzadelivery/test_settings.py.)
"""
from __future__ import annotations

import re
import secrets
import time
import uuid
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.core import signing
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from pizzadelivery import services
from pizzadelivery.asgi import application
from pizzadelivery.models import Order
from pizzadelivery.tokens import SALT, tracking_token_for
from tests import factories
from tests.system.conftest import (
    ORIGIN,
    World,
    assert_html_error,
    assert_json_error,
    browser_client,
    session_cookie,
)

pytestmark = pytest.mark.django_db(transaction=True)

FOREIGN_ORIGINS = ["https://evil.example", "http://127.0.0.1.evil.example", "http://evil.example:8000",
                   "http://localhost.evil.example", "null", "file://", "http://localhost:8000.evil.example"]


async def socket_outcome(path: str, *headers: tuple[bytes, bytes]) -> int | str:
    """The close code of a refused socket, or "open" for one that stays open."""
    communicator = WebsocketCommunicator(application, path, headers=list(headers))
    connected, _ = await communicator.connect(timeout=3)
    assert connected, f"{path}: handshake refused (browsers retry a 1006 forever)"
    if await communicator.receive_nothing(timeout=0.3):
        await communicator.disconnect()
        return "open"
    message = await communicator.receive_output(timeout=1)
    await communicator.disconnect(timeout=1)
    assert message["type"] == "websocket.close", message
    return message["code"]


def token_signed_at(order_id: uuid.UUID, seconds_ago: int) -> str:
    """A genuine tracking token for ``order_id``, issued ``seconds_ago``."""

    class Backdated(signing.TimestampSigner):
        def timestamp(self) -> str:
            return signing.b62_encode(int(time.time()) - seconds_ago)

    return Backdated(salt=SALT).sign_object(order_id.hex)


# --- one token, one order ---------------------------------------------------------------------------

@pytest.fixture
def two_orders(mirror) -> tuple[Order, Order]:
    """Two orders on the road, each with text that must never show on the other's pages."""
    shop = factories.restaurant(name="Da Mario")
    orders = []
    for who, street, driver in (("Alice Geheim", "Geheimweg 7", "Carla Fahrer"),
                                ("Bruno Privat", "Privatstraße 9", "Dieter Kurier")):
        order = factories.order(restaurant_obj=shop, customer_name=who, address=street, notes=f"Note of {who}")
        courier = factories.driver(name=driver)
        for step in ("confirmed", "preparing", "ready", "dispatched", "out_for_delivery"):
            services.order_transition(order_id=order.id, to=step, driver_id=courier.id)
        orders.append(Order.objects.select_related("driver", "customer").get(pk=order.id))
    return orders[0], orders[1]


def secrets_of(order: Order) -> list[str]:
    return [order.code, str(order.id), order.customer.name, order.delivery_address, order.notes, order.driver.name]


def test_a_token_opens_its_own_order_and_never_another(two_orders: tuple[Order, Order], stranger: APIClient) -> None:
    for mine, other in (two_orders, two_orders[::-1]):
        token = tracking_token_for(mine.id)
        for path in (f"/api/orders/{mine.id}", f"/api/orders/{mine.id}/delivery"):
            response = stranger.get(path, {"token": token})
            assert response.status_code == 200, response.content
            assert mine.code in response.content.decode()
            assert not [s for s in secrets_of(other) if s in response.content.decode()]
        for path in (f"/api/orders/{other.id}", f"/api/orders/{other.id}/delivery"):
            body = assert_json_error(stranger.get(path, {"token": token}), 403)
            assert body["error"] == "forbidden"
            assert not [s for s in secrets_of(other) if s in str(body)]
        for path in (f"/track/{token}/", f"/track/{token}/live/", f"/orders/{token}/confirmed/"):
            response = browser_client().get(path, follow=True)  # the old confirmation: to the tracker
            assert response.status_code == 200, (path, response.status_code)
            page = response.content.decode()
            assert mine.code in page or path.endswith("/live/"), path
            assert not [s for s in secrets_of(other) if s in page], path


@pytest.mark.usefixtures("close_worker_connections")
async def test_a_tracker_socket_gets_its_own_orders_pushes_only(two_orders: tuple[Order, Order]) -> None:
    mine, other = two_orders
    communicator = WebsocketCommunicator(application, f"/ws/track/{tracking_token_for(mine.id)}/", headers=[ORIGIN])
    connected, _ = await communicator.connect(timeout=3)
    assert connected

    await sync_to_async(services.driver_location_update)(driver_id=other.driver_id, lat=52.53, lng=13.41)
    await sync_to_async(factories.deliver)(other.id)
    assert await communicator.receive_nothing(timeout=1), "another order's push reached this socket"

    await sync_to_async(services.driver_location_update)(driver_id=mine.driver_id, lat=52.525, lng=13.405)
    pushed = await communicator.receive_from(timeout=5)
    assert mine.driver.name in pushed
    assert not [s for s in secrets_of(other) if s in pushed]
    await communicator.disconnect()


# --- guessing ---------------------------------------------------------------------------------------

def random_tokens() -> list[str]:
    """Random strings shaped like tracking tokens (payload:timestamp:signature) and not."""
    shaped = [f"{secrets.token_urlsafe(43)}:{secrets.token_urlsafe(4)}:{secrets.token_urlsafe(32)}" for _ in range(10)]
    return shaped + [secrets.token_urlsafe(n) for n in (8, 32, 64)] + [uuid.uuid4().hex, str(uuid.uuid4())]


def test_guessed_order_ids_get_nothing_and_tell_nothing(world: World, stranger: APIClient) -> None:
    """Without a credential an existing order and a guessed id get the same answer, so guessing
    cannot even learn which ids exist; with another order's token, likewise."""
    token = world.token("placed")
    real = world.orders["dispatched"].id
    for suffix in ("", "/delivery"):
        expected_anonymous = stranger.get(f"/api/orders/{real}{suffix}")
        expected_foreign = stranger.get(f"/api/orders/{real}{suffix}", {"token": token})
        assert_json_error(expected_anonymous, 401)
        assert_json_error(expected_foreign, 403)
        for guess in [uuid.uuid4() for _ in range(20)]:
            anonymous = stranger.get(f"/api/orders/{guess}{suffix}")
            foreign = stranger.get(f"/api/orders/{guess}{suffix}", {"token": token})
            assert (anonymous.status_code, anonymous.json()) == (401, expected_anonymous.json())
            assert (foreign.status_code, foreign.json()) == (403, expected_foreign.json())


def test_guessed_tokens_get_nothing(world: World, stranger: APIClient) -> None:
    real = world.orders["dispatched"].id
    for guess in random_tokens():
        assert_json_error(stranger.get(f"/api/orders/{real}", {"token": guess}), 403)
        assert_json_error(stranger.get(f"/api/orders/{real}/delivery", {"token": guess}), 403)
        for path in (f"/track/{guess}/", f"/track/{guess}/live/", f"/orders/{guess}/confirmed/"):
            page = assert_html_error(browser_client().get(path), 404)
            assert world.orders["dispatched"].code not in page


@pytest.mark.usefixtures("close_worker_connections")
async def test_guessed_tokens_close_the_socket_4001(world: World) -> None:
    for guess in random_tokens():
        assert await socket_outcome(f"/ws/track/{guess}/", ORIGIN) == 4001, guess


def test_staff_endpoints_give_strangers_nothing(world: World, stranger: APIClient) -> None:
    driver = world.free_drivers[0].id
    order = world.orders["placed"].id
    for method, path in (("get", "/api/drivers"), ("get", "/api/events"), ("get", "/api/state"),
                         ("post", "/api/orders"), ("post", f"/api/orders/{order}/transition"),
                         ("post", f"/api/drivers/{driver}/location"), ("post", f"/api/drivers/{driver}/status")):
        body = assert_json_error(getattr(stranger, method)(path, {}, format="json"), 401)
        assert body["error"] == "not_authenticated", (path, body)
    assert Order.objects.get(pk=order).status == "placed"


# --- refused sockets: accepted, then closed with a 4xxx code ----------------------------------------

@pytest.mark.usefixtures("close_worker_connections")
@pytest.mark.parametrize("origin", FOREIGN_ORIGINS)
async def test_a_foreign_origin_is_closed_4003(world: World, staff: User, origin: str) -> None:
    header = (b"origin", origin.encode())
    cookie = await sync_to_async(session_cookie)(staff)
    assert await socket_outcome(f"/ws/track/{world.token('dispatched')}/", header) == 4003
    assert await socket_outcome("/ws/dashboard/", header, cookie) == 4003


@pytest.mark.usefixtures("close_worker_connections")
async def test_a_socket_without_an_origin_is_closed_4003(world: World) -> None:
    assert await socket_outcome(f"/ws/track/{world.token('dispatched')}/") == 4003


@pytest.mark.usefixtures("close_worker_connections")
async def test_a_valid_token_from_an_allowed_origin_stays_open(world: World) -> None:
    assert await socket_outcome(f"/ws/track/{world.token('dispatched')}/", ORIGIN) == "open"


@pytest.mark.usefixtures("close_worker_connections")
async def test_a_link_lives_until_hours_after_the_order_ends(world: World, stranger: APIClient, settings) -> None:
    from datetime import timedelta

    from django.utils import timezone

    settings.TRACKING_LINK_HOURS = 24
    running, ended = world.orders["dispatched"], world.orders["delivered"]
    path = f"/api/orders/{ended.id}"

    async def outcomes(order: Order) -> tuple[Any, ...]:
        token = tracking_token_for(order.id)
        api = await sync_to_async(stranger.get)(f"/api/orders/{order.id}", {"token": token})
        delivery = await sync_to_async(stranger.get)(f"/api/orders/{order.id}/delivery", {"token": token})
        page = await sync_to_async(browser_client().get)(f"/track/{token}/")
        socket = await socket_outcome(f"/ws/track/{token}/", ORIGIN)
        return api.status_code, delivery.status_code, page.status_code, socket

    assert await outcomes(ended) == (200, 200, 200, "open")  # delivered a moment ago
    real_now = timezone.now
    try:
        timezone.now = lambda: real_now() + timedelta(hours=23, minutes=59)
        assert await outcomes(ended) == (200, 200, 200, "open")
        timezone.now = lambda: real_now() + timedelta(hours=24, minutes=1)
        assert await outcomes(ended) == (403, 403, 403, 4003)
        body = (await sync_to_async(stranger.get)(path, {"token": tracking_token_for(ended.id)})).json()
        assert body["error"] == "link_expired"
        page = (await sync_to_async(browser_client().get)(f"/track/{tracking_token_for(ended.id)}/")).content.decode()
        assert "This tracking link has expired" in page and ended.code in page
        assert await outcomes(running) == (200, 200, 200, "open")  # an order still running never expires
    finally:
        timezone.now = real_now


def test_a_request_with_a_link_never_gets_a_fresher_one(world: World, stranger: APIClient) -> None:
    order = world.orders["dispatched"]
    token = tracking_token_for(order.id)
    answered = stranger.get(f"/api/orders/{order.id}", {"token": token}).json()["tracking_url"]
    assert answered.endswith(f"/track/{token}/")  # the very link it was asked with: one per order
    legacy = token_signed_at(order.id, 60)  # a link from before (timestamped) still opens it while it runs
    assert stranger.get(f"/api/orders/{order.id}", {"token": legacy}).status_code == 200
    assert stranger.get(f"/api/orders/{order.id}", {"token": legacy}).json()["tracking_url"].endswith(f"/{token}/")


# --- the dispatcher's surfaces ----------------------------------------------------------------------

@pytest.fixture
def customer_user(transactional_db) -> User:
    return User.objects.create_user("customer", password="pw-for-tests-only")


def test_dashboard_pages_are_for_dispatchers(world: World, staff: User, customer_user: User) -> None:
    correlation_id = world.orders["placed"].id.hex  # any; refused before it is looked up
    paths = ["/dashboard/", "/dashboard/live/", f"/dashboard/batches/{correlation_id}/"]
    for path in paths:
        response = browser_client().get(path)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), path
        assert_html_error(browser_client(customer_user).get(path), 403)
    for user in (staff, factories.dispatcher_user()):
        assert browser_client(user).get("/dashboard/").status_code == 200
        assert browser_client(user).get("/dashboard/live/").status_code == 200


def test_state_api_is_for_dispatchers(world: World, staff: User, customer_user: User) -> None:
    assert_json_error(APIClient().get("/api/state"), 401)
    customer_session = APIClient()
    customer_session.force_login(customer_user)
    assert_json_error(customer_session.get("/api/state"), 403)
    for path in ("/api/drivers", "/api/events", "/api/orders"):
        assert_json_error(customer_session.get(path), 403)

    staff_session = APIClient()
    staff_session.force_login(staff)
    assert staff_session.get("/api/state").status_code == 200
    no_role = APIClient()  # an API token acts with its user's role: none here
    no_role.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=customer_user).key}")
    assert_json_error(no_role.get("/api/state"), 403)
    forged = APIClient()
    forged.credentials(HTTP_AUTHORIZATION=f"Token {secrets.token_hex(20)}")
    assert_json_error(forged.get("/api/state"), 401)


@pytest.mark.usefixtures("close_worker_connections")
async def test_dashboard_socket_is_for_dispatchers(world: World, staff: User, customer_user: User) -> None:
    assert await socket_outcome("/ws/dashboard/", ORIGIN) == 4001
    customer = await sync_to_async(session_cookie)(customer_user)
    assert await socket_outcome("/ws/dashboard/", ORIGIN, customer) == 4003
    forged = (b"cookie", f"{django_settings.SESSION_COOKIE_NAME}={secrets.token_hex(16)}".encode())
    assert await socket_outcome("/ws/dashboard/", ORIGIN, forged) == 4001
    assert await socket_outcome("/ws/dashboard/", ORIGIN, await sync_to_async(session_cookie)(staff)) == "open"


def test_a_deactivated_users_token_stops_at_once(world: World) -> None:
    dispatcher = factories.dispatcher_user()
    client = factories.token_client(dispatcher)
    assert client.get("/api/state").status_code == 200
    User.objects.filter(pk=dispatcher.pk).update(is_active=False)  # no signal, no save()
    assert_json_error(client.get("/api/state"), 401)
    User.objects.filter(pk=dispatcher.pk).update(is_active=True)
    assert client.get("/api/state").status_code == 200
    dispatcher.groups.clear()  # the role taken away: refused on the next request
    assert_json_error(client.get("/api/state"), 403)


def test_healthz_is_public_and_reveals_no_secrets(world: World, stranger: APIClient) -> None:
    response = stranger.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "up"}  # the details are for staff
    body = response.content.decode()
    database = django_settings.DATABASES["default"]
    secrets_here = [django_settings.SECRET_KEY, django_settings.REDIS_URL, str(database["NAME"]),
                    database.get("PASSWORD"), database.get("HOST")]
    assert not [secret for secret in secrets_here if secret and secret in body]


# --- CSRF on every form ---------------------------------------------------------------------------

class Forms(HTMLParser):
    """POST targets of a page: <form method=post> (with or without a CSRF input) and hx-post."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self.hx_posts: list[str] = []
        self.body_headers = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "body":
            self.body_headers = attributes.get("hx-headers", "")
        if tag == "form" and attributes.get("method", "get").lower() == "post":
            self.forms.append({"action": attributes.get("action", ""), "csrf": False})
        if tag == "input" and attributes.get("name") == "csrfmiddlewaretoken" and self.forms:
            self.forms[-1]["csrf"] = bool(attributes.get("value"))
        if "hx-post" in attributes:
            self.hx_posts.append(attributes["hx-post"])
        if "formaction" in attributes:  # a submit button posting its form elsewhere
            self.forms.append({"action": attributes["formaction"], "csrf": True})


def post_targets(client: Client, page: str) -> set[str]:
    response = client.get(page)
    assert response.status_code == 200, (page, response.status_code)
    parser = Forms()
    parser.feed(response.content.decode())
    for form in parser.forms:
        assert form["csrf"], f"{page}: a POST form to {form['action']!r} has no CSRF token"
    if parser.hx_posts:
        assert "X-CSRFToken" in parser.body_headers and re.search(r'"X-CSRFToken": "\w{32,}"', parser.body_headers), (
            f"{page}: hx-post without the CSRF header on <body>")
    return {urljoin(page, form["action"]) for form in parser.forms} | {urljoin(page, url) for url in parser.hx_posts}


def test_every_form_is_csrf_protected(world: World, settings) -> None:
    settings.RATELIMIT_ENABLE = False
    shop = world.restaurant.slug
    admin = User.objects.create_superuser("admin", password="pw-for-tests-only")
    customer = Client(enforce_csrf_checks=True)
    dispatcher = Client(enforce_csrf_checks=True)
    dispatcher.force_login(admin)
    menu = customer.get(f"/restaurants/{shop}/").content.decode()  # a dish in the cart: its line has a form too
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', menu).group(1)
    customer.post(f"/restaurants/{shop}/cart/add/", {"item": world.items[0].id, "csrfmiddlewaretoken": token})
    pages = {
        customer: ["/", f"/restaurants/{shop}/", f"/track/{world.token('dispatched')}/",
                   f"/track/{world.token('placed')}/"],  # where checkout lands (the old confirmation redirects)
        dispatcher: ["/dashboard/", "/admin/", f"/admin/pizzadelivery/order/{world.orders['placed'].id}/change/",
                     "/admin/pizzadelivery/order/", "/admin/pizzadelivery/driver/", "/admin/pizzadelivery/driver/add/",
                     f"/admin/pizzadelivery/driver/{world.free_drivers[0].id}/change/",
                     "/admin/pizzadelivery/restaurant/",
                     f"/admin/pizzadelivery/restaurant/{world.restaurant.id}/change/",
                     "/admin/pizzadelivery/menuitem/", f"/admin/pizzadelivery/menuitem/{world.items[0].id}/change/",
                     "/admin/password_change/"],
    }
    anonymous_pages = ["/admin/login/"]
    targets: list[tuple[Client, str]] = []
    for client, urls in pages.items():
        targets += [(client, target) for url in urls for target in post_targets(client, url)]
    targets += [(Client(enforce_csrf_checks=True), t) for url in anonymous_pages
                for t in post_targets(Client(enforce_csrf_checks=True), url)]
    seen = {target for _, target in targets}
    for expected in (f"/restaurants/{shop}/cart/add/", f"/restaurants/{shop}/cart/update/",
                     f"/restaurants/{shop}/checkout/", "/admin/login/", "/admin/password_change/",
                     "/admin/logout/", f"/admin/pizzadelivery/order/{world.orders['placed'].id}/transition/"):
        assert any(t.startswith(expected) for t in seen), f"no form posts to {expected}; found {sorted(seen)}"

    rows = Order.objects.count(), Order.objects.get(pk=world.orders["placed"].id).status
    for client, target in targets:
        data = {"item": world.items[0].id, "quantity": 1, "to": "cancelled", "username": admin.username,
                "password": "pw-for-tests-only", "action": "transition_to_cancelled",
                "_selected_action": str(world.orders["placed"].id), "name": "Mallory", "vehicle": "bike"}
        response = client.post(target, data)
        assert response.status_code == 403, f"POST {target} without a CSRF token: {response.status_code}"
    assert (Order.objects.count(), Order.objects.get(pk=world.orders["placed"].id).status) == rows


def test_csrf_token_lets_the_same_form_through(world: World) -> None:
    """The refusals above are CSRF's: with the page's token the same post goes through."""
    shop = world.restaurant.slug
    customer = Client(enforce_csrf_checks=True)
    page = customer.get(f"/restaurants/{shop}/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    assert customer.post(f"/restaurants/{shop}/cart/add/", {"item": world.items[0].id}).status_code == 403
    response = customer.post(f"/restaurants/{shop}/cart/add/", {"item": world.items[0].id,
                                                                 "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    response = customer.post(f"/restaurants/{shop}/cart/add/", {"item": world.items[0].id},
                             headers={"X-CSRFToken": token, "HX-Request": "true"})
    assert response.status_code == 200


def test_session_authenticated_api_writes_need_csrf(world: World, staff: User) -> None:
    """A logged-in staff browser is not a free pass for cross-site API writes; an API token is
    not a cookie, so token requests need no CSRF token."""
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(staff)
    order = world.orders["placed"].id
    body = assert_json_error(browser.post(f"/api/orders/{order}/transition", {"to": "cancelled"}, format="json"), 403)
    assert "CSRF" in body["detail"]
    assert Order.objects.get(pk=order).status == "placed"
    integrator = APIClient(enforce_csrf_checks=True)
    integrator.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=staff).key}")
    assert integrator.post(f"/api/orders/{order}/transition", {"to": "confirmed"}, format="json").status_code == 200


# --- rate limits ------------------------------------------------------------------------------------

LIMIT = 3


def assert_rate_limited(response: Any) -> None:
    body = assert_json_error(response, 429)
    assert body["error"] == "rate_limited", body
    assert int(response["Retry-After"]) > 0


@pytest.mark.parametrize("setting, method, path", [
    ("STATE_RATE_LIMIT", "get", "/api/state"),
    ("ORDER_CREATE_RATE_LIMIT", "post", "/api/orders"),
    ("LOCATION_RATE_LIMIT", "post", "/api/drivers/{driver}/location"),
])
def test_rate_limits_answer_429_json_with_retry_after(world: World, staff: User, settings, setting: str,
                                                      method: str, path: str) -> None:
    # Per hour, so that a window boundary cannot fall inside the test and reset the count.
    setattr(settings, setting, f"{LIMIT}/h")
    path = path.format(driver=world.free_drivers[0].id)
    body = {"/api/orders": {"restaurant": world.restaurant.id,
                            "items": [{"menu_item": world.items[0].id, "quantity": 1}],
                            "customer": {"name": "Ada Lovelace", "phone": "+49 30 1234567"},
                            "delivery_address": {"text": "Torstraße 1", "lat": 52.53, "lng": 13.41}},
            "/api/state": None}.get(path, {"lat": 52.52, "lng": 13.40})

    def call(client: APIClient) -> Any:
        return client.get(path) if method == "get" else client.post(path, body, format="json")

    # Two callers allowed to do it (an admin, and a second admin: every operation here is theirs).
    first, second = factories.token_client(staff), factories.token_client(factories.admin_user("admin-2"))

    for _ in range(LIMIT):
        assert call(first).status_code in (200, 201)
    orders = Order.objects.count()
    assert_rate_limited(call(first))
    assert Order.objects.count() == orders  # a refused order is not placed
    # Per client: another integrator is not held back by the first one's burst.
    assert call(second).status_code in (200, 201)


def test_checkout_is_rate_limited_with_retry_after(world: World, settings) -> None:
    settings.CHECKOUT_RATE_LIMIT = "2/h"
    shop = f"/restaurants/{world.restaurant.slug}"
    customer = Client()
    form = {"name": "Ada Lovelace", "phone": "+49 30 1234567", "address": "Torstraße 1", "district": "mitte"}
    for _ in range(2):
        customer.post(f"{shop}/cart/add/", {"item": world.items[0].id})
        assert customer.post(f"{shop}/checkout/", form).status_code == 302
    customer.post(f"{shop}/cart/add/", {"item": world.items[0].id})
    orders = Order.objects.count()
    response = customer.post(f"{shop}/checkout/", form)
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert Order.objects.count() == orders
