"""``make run`` (manage.py run_stack) supervises its embedded Redis: when it dies, it is
restarted and the log says so, and the product carries on (the relay rebuilds the mirror)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
import redis
from django.conf import settings

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


def test_make_run_restarts_its_embedded_redis_and_says_so(tmp_path: Path) -> None:
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if key not in ("REDIS_URL", "REDIS_SENTINELS")}
    env.update({"VAR_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path / 'run.sqlite3'}", "SIMULATE": "0",
                "HOST": "127.0.0.1", "PORT": str(port), "DJANGO_SETTINGS_MODULE": "pizzadelivery.settings",
                "DEMO_ADMIN_PASSWORD": "run-stack-test-pw", "PYTHONUNBUFFERED": "1"})
    stack = subprocess.Popen([sys.executable, "manage.py", "run_stack"], cwd=settings.BASE_DIR, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(iter(stack.stdout.readline, "")), daemon=True).start()

    def wait_for(text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in lines):
            assert stack.poll() is None, "".join(lines[-30:])
            assert time.monotonic() < deadline, f"no {text!r} in:\n" + "".join(lines[-30:])
            time.sleep(0.2)

    try:
        wait_for("pizzadelivery is running", 150)
        embedded = [child for child in psutil.Process(stack.pid).children(recursive=True)
                    if "redis-server" in " ".join(child.cmdline())]
        assert len(embedded) == 1
        socket_path = str(default_socket_path(tmp_path))
        embedded[0].send_signal(signal.SIGKILL)  # dies as a crashed server would
        wait_for("the embedded Redis stopped", 10)
        wait_for("the embedded Redis is back", 10)
        assert redis.Redis(unix_socket_path=socket_path, socket_timeout=1).ping()
        assert stack.poll() is None  # the rest of the stack runs on
        # The relay notices the empty Redis and rebuilds the mirror.
        deadline = time.monotonic() + 20
        client = redis.Redis(unix_socket_path=socket_path, socket_timeout=1)
        while not client.exists("pd:mirror:ready"):
            assert time.monotonic() < deadline, "the relay did not rebuild the mirror"
            time.sleep(0.2)
    finally:
        os.killpg(stack.pid, signal.SIGTERM)
        try:
            stack.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(stack.pid, signal.SIGKILL)
