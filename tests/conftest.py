"""Fixtures: a real Redis (embedded unless REDIS_URL is set), the real database, API clients."""
from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import caches
from django.db import connection, connections
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from pizzadelivery.infra.embedded_redis import RedisServer, ensure_embedded_redis
from pizzadelivery.infra.redis import get_redis
from tests import factories
from tests.clock import RunningClock

T = TypeVar("T")


@pytest.fixture(scope="session", autouse=True)
def _redis_server() -> Iterator[None]:
    started = ensure_embedded_redis()
    yield
    if started is not None:
        started.stop()


@pytest.fixture(scope="session", autouse=True)
def _publisher_thread_stops_first(django_db_setup) -> Iterator[None]:
    """The publisher thread holds a connection to the test database: it ends before the
    database is dropped."""
    yield
    from events.handoff import publisher_thread

    publisher_thread.stop()


@pytest.fixture(autouse=True)
def _clean_redis(_redis_server: None) -> Iterator[None]:
    """Each test starts with an empty Redis: the tests own the Redis database they are given."""
    get_redis().flushdb()
    caches["local"].clear()
    yield


@pytest.fixture
def clock(monkeypatch) -> RunningClock:
    """``timezone.now`` running with real time, moved on by ``clock.advance(seconds=...)``."""
    from django.utils import timezone

    running = RunningClock(timezone.now)
    monkeypatch.setattr(timezone, "now", running)
    return running


@pytest.fixture
async def close_worker_connections() -> AsyncIterator[None]:
    """Consumers (and async tests) read the database in asgiref's worker thread; on PostgreSQL
    (CONN_MAX_AGE) its connection would outlive the test and block the test database's teardown."""
    yield
    await sync_to_async(connections.close_all)()


@pytest.fixture
def redis_client():
    return get_redis()


@pytest.fixture
def mirror(transactional_db):
    """An (empty) mirror marked ready, so readers take the Redis path."""
    from events.publisher import rebuild_projections

    rebuild_projections()


@pytest.fixture
def staff(transactional_db):
    return factories.staff_user()


@pytest.fixture
def api(staff) -> APIClient:
    """An integrator: API token of a staff user."""
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=staff)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


@pytest.fixture
def own_redis(tmp_path_factory, settings) -> Iterator[RedisServer]:
    """A Redis of this test's own, to stop and start for fault injection; the app points at it."""
    socket_dir = Path(tmp_path_factory.mktemp("r", numbered=True))
    server = RedisServer(socket_dir / "redis.sock").start()
    settings.REDIS_URL = server.url
    settings.CACHES = {**settings.CACHES, "default": {**settings.CACHES["default"], "LOCATION": server.url}}
    settings.CHANNEL_LAYERS = {"default": {**settings.CHANNEL_LAYERS["default"],
                                           "CONFIG": {**settings.CHANNEL_LAYERS["default"]["CONFIG"],
                                                      "hosts": [server.url]}}}
    yield server
    server.stop()


# --- a real server and a real browser ---------------------------------------------------

def _database_url_for_subprocess() -> str:
    from django.db import connection

    params = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{params['NAME']}"
    auth = params["USER"] + (f":{params['PASSWORD']}" if params.get("PASSWORD") else "")
    return f"postgres://{auth}@{params['HOST'] or '127.0.0.1'}:{params['PORT'] or 5432}/{params['NAME']}"


@contextmanager
def override_from_env(env: dict[str, str]) -> Iterator[None]:
    """Settings the server launchers read, as a server started with ``env`` would have them."""
    from django.test import override_settings

    forwarded = [ip.strip() for ip in env.get("FORWARDED_ALLOW_IPS", "").split(",") if ip.strip()]
    frame = int(env.get("WS_MAX_FRAME_BYTES") or settings.WS_MAX_FRAME_BYTES)
    with override_settings(FORWARDED_ALLOW_IPS=forwarded, WS_MAX_FRAME_BYTES=frame):
        yield


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """A real server on the test database: uvicorn serving pizzadelivery.asgi (HTTP and
    WebSockets), or with ``wsgi=True`` granian serving HTTP the way production does."""

    def __init__(self, extra_env: dict[str, str] | None = None, *, wsgi: bool = False) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra_env = extra_env or {}
        self.wsgi = wsgi
        self.process = None

    def env(self) -> dict[str, str]:
        env = {**os.environ, "DATABASE_URL": _database_url_for_subprocess(), "REDIS_URL": settings.REDIS_URL,
               "DJANGO_SETTINGS_MODULE": "pizzadelivery.settings", "RATELIMIT_ENABLE": "0",
               "PYTHONPATH": str(Path(settings.BASE_DIR)),
               # The browser fixture relaxes Django's async check in this process; a server
               # keeps it (an empty value is "off").
               "DJANGO_ALLOW_ASYNC_UNSAFE": ""}
        env.update(self.extra_env)
        return env

    def start(self) -> "LiveServer":
        import subprocess
        import time
        import urllib.request

        from pizzadelivery.infra.servers import granian_command, uvicorn_command

        # The options production uses (frame cap, forwarded headers), read from this server's
        # environment as the product's own launcher would.
        with override_from_env(self.env()):
            if self.wsgi:
                command = granian_command("127.0.0.1", self.port, "--log-level", "warning")
            else:
                command = uvicorn_command("127.0.0.1", self.port, "--no-access-log", "--log-level", "warning")
        self.process = subprocess.Popen(command, cwd=settings.BASE_DIR, env=self.env())
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/api/restaurants", timeout=1) as response:
                    if response.status == 200:
                        return self
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the live server did not start")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except Exception:
                self.process.kill()
        self.process = None


@pytest.fixture(scope="session")
def live_server_session(django_db_setup, django_db_blocker, _redis_server) -> Iterator[LiveServer]:
    server = LiveServer().start()
    yield server
    server.stop()


@pytest.fixture
def live(live_server_session, transactional_db) -> LiveServer:
    """The session's live server, with this test's committed data visible to it."""
    return live_server_session


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
                 "--no-first-run", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser(live_server_session):
    """Chromium for one test module, with Django's async-safety check relaxed meanwhile.

    Playwright's sync API keeps an event loop registered as running in this thread while it
    is started, and Django takes that for async code: every ORM call of the test (and the
    database flush after it) would raise SynchronousOnlyOperation. So Playwright runs only
    while one module's tests do, and servers never inherit the relaxed check (LiveServer.env).
    Browser tests move orders through the live server's API, or publish from a worker thread
    with a database connection of its own.
    """
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (make test installs it where it can)")
    from playwright.sync_api import sync_playwright

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        playwright = sync_playwright().start()
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
        playwright.stop()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def in_thread(work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run code that publishes in a thread of its own, away from Playwright's event loop, with
    a database connection it closes when done."""
    with ThreadPoolExecutor(1) as pool:
        def run() -> T:
            try:
                return work(*args, **kwargs)
            finally:
                connection.close()

        return pool.submit(run).result(timeout=30)


def login_page(page, live: LiveServer, user) -> None:
    """Give the browser a real session of ``user`` (made here with force_login: the live
    server runs the product's password hashers, not the tests' fast one)."""
    from django.conf import settings as django_settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    page.context.add_cookies([{"name": django_settings.SESSION_COOKIE_NAME,
                               "value": client.cookies[django_settings.SESSION_COOKIE_NAME].value,
                               "url": live.url}])


@pytest.fixture(scope="module")
def tiles():
    """A local map tile server (tests/tile_server.py), recording what it was asked for."""
    from tests import tile_server

    with tile_server.serving() as server:
        yield server


@pytest.fixture(scope="module")
def tiled(live_server_session, tiles):
    """A second live server, this one with MAP_TILES_URL pointing at the test's tile server."""
    server = LiveServer({"MAP_TILES_URL": tiles.template, "MAP_ATTRIBUTION": "© Test Tiles"}).start()
    yield server
    server.stop()


def csp_violations(page) -> list[str]:
    """The page's console messages about the Content-Security-Policy refusing something."""
    found: list[str] = []
    page.on("console", lambda message: found.append(message.text)
            if "Content Security Policy" in message.text or "Refused to" in message.text else None)
    return found


def wait_for_js(page: Any, expression: str, arg: Any = None, *, timeout: float = 10.0) -> Any:
    """Poll ``expression`` in the page until it is truthy. Playwright's ``wait_for_function``
    polls through ``eval`` inside the page, which the pages' CSP (script-src 'self') refuses;
    ``evaluate`` goes through the debugging protocol, which it does not."""
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(expression, arg)
        if value or time.monotonic() > deadline:
            assert value, f"{expression!r} did not become true within {timeout} s"
            return value
        time.sleep(0.05)
