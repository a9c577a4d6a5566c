"""``make run``: everything a newcomer needs, on embedded defaults, stopped by Ctrl-C."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from events.publisher import rebuild_projections
from pizzadelivery.infra.embedded_redis import ensure_embedded_redis
from pizzadelivery.infra.servers import (
    behind_proxy_env,
    caddy_command,
    free_port,
    granian_command,
    proxy_env,
    uvicorn_command,
)

# How often the supervisor looks at its processes, and how many restarts of the embedded Redis
# in a row (each within a minute of the previous) it tries before giving up.
WATCH_SECONDS = 0.5
MAX_QUICK_REDIS_RESTARTS = 5
# The production serving layout: HTTP on granian (WSGI, this many processes and threads each),
# sockets on uvicorn (ASGI), both behind Caddy on HOST:PORT.
HTTP_WORKERS = 2
HTTP_THREADS = 2
READY_SECONDS = 60


class Command(BaseCommand):
    help = ("Migrate, seed demo data, start embedded Redis (unless REDIS_URL), the servers (granian for HTTP, "
            "uvicorn for sockets, Caddy in front on HOST:PORT), relay, webhook sender and simulator.")

    def handle(self, *args, **options) -> None:
        host = os.environ.get("HOST", "127.0.0.1")
        port = os.environ.get("PORT", "8000")
        redis_server = ensure_embedded_redis()
        children: list[subprocess.Popen[bytes]] = []
        stopping = False

        def stop(*_: object) -> None:
            nonlocal stopping
            if stopping:
                return
            stopping = True
            self.stdout.write("\nstopping…")
            for child in children:
                if child.poll() is None:
                    child.terminate()
            for child in children:
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()
            if redis_server is not None:
                redis_server.stop()
            self.stdout.write("stopped.")

        signal.signal(signal.SIGTERM, lambda *a: (stop(), sys.exit(0)))
        try:
            call_command("migrate", verbosity=0)
            call_command("seed_demo")
            rebuild_projections()
            env = {**os.environ, "REDIS_URL": settings.REDIS_URL, "PYTHONUNBUFFERED": "1"}
            manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
            http_port, ws_port = free_port(), free_port()
            backend_env = {**env, **behind_proxy_env()}
            children.append(subprocess.Popen(
                granian_command("127.0.0.1", http_port, "--log-level", "warning", "--no-access-log",
                                workers=HTTP_WORKERS, threads=HTTP_THREADS), env=backend_env, cwd=settings.BASE_DIR))
            children.append(subprocess.Popen(
                uvicorn_command("127.0.0.1", ws_port, "--no-access-log", "--log-level", "warning"), env=backend_env,
                cwd=settings.BASE_DIR))
            self._wait_for_ports([http_port, ws_port], children)  # then the proxy finds them up
            children.append(subprocess.Popen(
                caddy_command(), env={**env, **proxy_env(host, port, f"127.0.0.1:{http_port}", f"127.0.0.1:{ws_port}")},
                cwd=settings.BASE_DIR))
            children.append(subprocess.Popen([*manage, "run_relay"], env=env))
            children.append(subprocess.Popen([*manage, "run_webhooks"], env=env))
            if os.environ.get("SIMULATE", "1") != "0":
                children.append(subprocess.Popen([*manage, "simulate"], env=env))
            base = f"http://{host}:{port}"
            self._wait_until_serving(base, children)
            self.stdout.write(self.style.SUCCESS(
                f"\npizzadelivery is running\n"
                f"  storefront   {base}/\n"
                f"  dashboard    {base}/dashboard/\n"
                f"  admin        {base}/admin/\n"
                f"  API docs     {base}/api/docs\n"
                f"  serving      Caddy on {host}:{port}: HTTP -> granian ({HTTP_WORKERS}x{HTTP_THREADS}) "
                f"on :{http_port}, /ws/ -> uvicorn on :{ws_port}\n"
                f"  redis        {settings.REDIS_URL}{' (embedded)' if settings.EMBEDDED_REDIS else ''}\n"
                f"  database     {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}\n"
                f"  simulator    {'off (SIMULATE=0)' if os.environ.get('SIMULATE') == '0' else 'on'}\n"
                f"  webhooks     sender on{' (private targets allowed)' if settings.WEBHOOK_ALLOW_PRIVATE else ''}\n"
                f"  e-mails      {settings.EMAIL_URL.split('://', 1)[0]}"
                f"{' (printed by the relay)' if settings.EMAIL_URL.startswith('consolemail') else ''}\n"
                f"  map          {'tiles from ' + settings.MAP_TILES_URL if settings.MAP_TILES_URL else 'offline'}"
                f"; geocoder {settings.GEOCODER}\n"
                f"Ctrl-C stops everything.\n"))
            quick_restarts, last_restart = 0, 0.0
            while all(child.poll() is None for child in children):
                time.sleep(WATCH_SECONDS)
                if redis_server is not None and redis_server.process is not None \
                        and redis_server.process.poll() is not None:
                    code = redis_server.process.returncode
                    quick_restarts = quick_restarts + 1 if time.monotonic() - last_restart < 60 else 1
                    if quick_restarts > MAX_QUICK_REDIS_RESTARTS:
                        self.stderr.write(f"the embedded Redis keeps dying (exit code {code}): giving up")
                        break
                    self.stderr.write(f"the embedded Redis stopped (exit code {code}): restarting it")
                    redis_server.start()
                    last_restart = time.monotonic()
                    # It comes back empty: the relay rebuilds the mirror and publishes the outbox.
                    self.stderr.write(f"the embedded Redis is back on {redis_server.url}; the relay rebuilds the mirror")
            failed = [c.args for c in children if c.poll() is not None]
            if failed:
                self.stderr.write(f"a process stopped unexpectedly: {failed}")
        except KeyboardInterrupt:
            pass
        finally:
            stop()

    def _wait_for_ports(self, ports: list[int], children: list[subprocess.Popen[bytes]]) -> None:
        deadline = time.monotonic() + READY_SECONDS
        waiting = list(ports)
        while waiting and time.monotonic() < deadline and all(child.poll() is None for child in children):
            try:
                socket.create_connection(("127.0.0.1", waiting[0]), timeout=1).close()
                waiting.pop(0)
            except OSError:
                time.sleep(0.1)

    def _wait_until_serving(self, base: str, children: list[subprocess.Popen[bytes]]) -> None:
        """Until the page, the API and the socket server answer through the proxy."""
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline and all(child.poll() is None for child in children):
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        self.stderr.write(f"the servers did not answer on {base} within {READY_SECONDS} s")
