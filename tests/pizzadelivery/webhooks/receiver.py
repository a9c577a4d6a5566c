"""A real webhook receiver for the tests: an HTTP server on 127.0.0.1 that verifies every
request with ``standardwebhooks`` and answers as scripted (fail, hang, rate-limit, redirect, 410)."""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError

# The ports this project's tests may listen on (the machine is shared).
PORTS = range(8180, 8190)


@dataclass(frozen=True)
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0.0  # seconds before answering (longer than the sender's timeout: a hang)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    verified: bool
    answer: Answer

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def message(self) -> dict[str, Any]:
        return json.loads(self.body)


class Receiver:
    """``script``: the answers to the first requests, in order; then ``Answer()`` (200)."""

    def __init__(self) -> None:
        self.secrets: list[str] = []
        self.script: list[Answer] = []
        self.requests: list[Received] = []
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.server_address[1]

    def url(self, path: str = "/hook", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def verify(self, body: bytes, headers: dict[str, str]) -> bool:
        for secret in self.secrets:
            try:
                Webhook(secret).verify(body, headers)
                return True
            except WebhookVerificationError:
                continue
        return False

    def accepted(self) -> list[Received]:
        """The requests answered 2xx, verified, in arrival order."""
        with self.lock:
            return [r for r in self.requests if 200 <= r.answer.status < 300 and not r.answer.delay and r.verified]

    def wait_for(self, count: int, *, timeout: float = 30) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.accepted()) >= count:
                return self.accepted()
            time.sleep(0.05)
        raise AssertionError(f"{len(self.accepted())} of {count} webhooks arrived: {self.requests}")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {name.lower(): value for name, value in self.headers.items()}
                with receiver.lock:
                    answer = receiver.script.pop(0) if receiver.script else Answer()
                    receiver.requests.append(Received(self.path, headers, body, time.monotonic(),
                                                      receiver.verify(body, headers), answer))
                if answer.delay:
                    time.sleep(answer.delay)
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                except OSError:
                    pass  # the sender gave up waiting (a timeout): nobody listens any more

        return Handler

    def start(self) -> "Receiver":
        for port in PORTS:
            try:
                self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
                break
            except OSError:
                continue
        else:
            raise RuntimeError(f"no free port in {PORTS}")
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver().start()
    try:
        yield receiver
    finally:
        receiver.stop()

