"""``make run`` (manage.py run_stack): the production serving layout on one origin (Caddy on
HOST:PORT in front of granian for HTTP and uvicorn for sockets), and it supervises its
embedded Redis: when it dies, it is restarted and the log says so, and the product carries on
(the relay rebuilds the mirror)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import redis
import requests
from django.conf import settings
from websockets.sync.client import connect

from pizzadelivery.infra.embedded_redis import default_socket_path

pytestmark = pytest.mark.slow


def _free_port() -> int:
    for port in range(8160, 8170):  # this project's share of the machine's ports
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.skip("no free port in 8160-8169")


class Stack:
    """``manage.py run_stack`` in its own process group, its output collected."""

    def __init__(self, tmp_path: Path) -> None:
        self.port = _free_port()
        env = {key: value for key, value in os.environ.items() if key not in ("REDIS_URL", "REDIS_SENTINELS")}
        env.update({"VAR_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path / 'run.sqlite3'}",
                    "SIMULATE": "0", "HOST": "127.0.0.1", "PORT": str(self.port),
                    "DJANGO_SETTINGS_MODULE": "pizzadelivery.settings",
                    "DEMO_ADMIN_PASSWORD": "run-stack-test-pw", "PYTHONUNBUFFERED": "1"})
        self.process = subprocess.Popen([sys.executable, "manage.py", "run_stack"], cwd=settings.BASE_DIR, env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                        start_new_session=True)
        self.lines: list[str] = []
        threading.Thread(target=lambda: self.lines.extend(iter(self.process.stdout.readline, "")),
                         daemon=True).start()

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            assert self.process.poll() is None, "".join(self.lines[-30:])
            assert time.monotonic() < deadline, f"no {text!r} in:\n" + "".join(self.lines[-30:])
            time.sleep(0.2)

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    running = Stack(tmp_path)
    try:
        running.wait_for("pizzadelivery is running", 150)
        yield running
    finally:
        running.stop()


def test_make_run_serves_pages_api_and_sockets_on_one_origin(stack: Stack) -> None:
    base = f"http://127.0.0.1:{stack.port}"
    servers = {" ".join(child.cmdline()) for child in psutil.Process(stack.process.pid).children(recursive=True)}
    assert any("granian" in line and "--interface wsgi" in line for line in servers)
    assert any("uvicorn" in line for line in servers)
    assert any("caddy" in line and "Caddyfile" in line for line in servers)

    page = requests.get(f"{base}/", timeout=10)
    assert page.status_code == 200 and "1.1 Caddy" in page.headers["via"]
    token = next(line.split()[2] for line in stack.lines if line.strip().startswith("API token"))
    api = requests.Session()
    api.headers["Authorization"] = f"Token {token}"
    orders = api.get(f"{base}/api/orders", params={"status": "out_for_delivery"}, timeout=10)
    assert orders.status_code == 200, orders.text
    order = orders.json()["results"][0]
    link = order["tracking_url"].rstrip("/").rsplit("/", 1)[-1]

    # The tracker's socket answers on the same origin, and a location report reaches it.
    with connect(f"ws://127.0.0.1:{stack.port}/ws/track/{link}/", origin=base, open_timeout=10) as socket_:
        moved = api.post(f"{base}/api/drivers/{order['driver_id']}/location", json={"lat": 52.5301, "lng": 13.4102},
                         timeout=10)
        assert moved.status_code == 200, moved.text
        pushed = socket_.recv(timeout=10)
    assert "hx-swap-oob" in pushed and 'id="trk-driver-pin"' in pushed


def test_make_run_restarts_its_embedded_redis_and_says_so(stack: Stack, tmp_path: Path) -> None:
    embedded = [child for child in psutil.Process(stack.process.pid).children(recursive=True)
                if "redis-server" in " ".join(child.cmdline())]
    assert len(embedded) == 1
    socket_path = str(default_socket_path(tmp_path))
    embedded[0].send_signal(signal.SIGKILL)  # dies as a crashed server would
    stack.wait_for("the embedded Redis stopped", 10)
    stack.wait_for("the embedded Redis is back", 10)
    assert redis.Redis(unix_socket_path=socket_path, socket_timeout=1).ping()
    assert stack.process.poll() is None  # the rest of the stack runs on
    # The relay notices the empty Redis and rebuilds the mirror.
    deadline = time.monotonic() + 20
    client = redis.Redis(unix_socket_path=socket_path, socket_timeout=1)
    while not client.exists("pd:mirror:ready"):
        assert time.monotonic() < deadline, "the relay did not rebuild the mirror"
        time.sleep(0.2)
