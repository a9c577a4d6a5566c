"""A whole stack in processes: servers, the relay and the simulator, over the test database."""
from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from django.conf import settings
from rest_framework.authtoken.models import Token

from tests.conftest import LiveServer


class Stack:
    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url
        self.servers: list[LiveServer] = []
        self.workers: dict[str, subprocess.Popen[bytes]] = {}

    def server(self, *, wsgi: bool = False) -> LiveServer:
        server = LiveServer(extra_env={"REDIS_URL": self.redis_url}, wsgi=wsgi).start()
        self.servers.append(server)
        return server

    def _manage(self, name: str, *args: str) -> None:
        env = self.servers[0].env() if self.servers else LiveServer(extra_env={"REDIS_URL": self.redis_url}).env()
        self.workers[name] = subprocess.Popen([sys.executable, "manage.py", *args], cwd=settings.BASE_DIR, env=env)

    def relay(self) -> None:
        self._manage("relay", "run_relay", "--interval", "0.2")

    def simulator(self, *args: str) -> None:
        self._manage("simulator", "simulate", "--tick", "0.5", "--seed", "7", *args)

    def stop(self, name: str) -> None:
        worker = self.workers.pop(name, None)
        if worker and worker.poll() is None:
            worker.terminate()
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.kill()

    def close(self) -> None:
        for name in list(self.workers):
            self.stop(name)
        for server in self.servers:
            server.stop()


@pytest.fixture
def stack(transactional_db, own_redis) -> Iterator[Stack]:
    running = Stack(own_redis.url)
    yield running
    running.close()


@pytest.fixture
def token(staff) -> str:
    return Token.objects.get_or_create(user=staff)[0].key
