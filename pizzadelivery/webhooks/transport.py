"""One webhook POST, safe to aim at a URL a user typed (SSRF).

The target's name is resolved here, at send time, and every address it resolves to is checked:
private, loopback, link-local and other non-public addresses are refused (unless
``WEBHOOK_ALLOW_PRIVATE``), and the connection goes to the address that was checked, so a DNS
answer that changes between check and connect (rebinding) cannot slip through. Redirects are
never followed (``http.client`` does not), the whole exchange has one deadline
(``WEBHOOK_TIMEOUT_SECONDS``), and only the first ``WEBHOOK_RESPONSE_CAP_BYTES`` of an answer
are read.
"""
from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from django.utils import timezone

MAX_RETRY_AFTER_S = 24 * 3600


class Refused(Exception):
    """The target may not be called (its address, or its URL): nothing was sent."""


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    duration_ms: int
    error: str = ""
    retry_after: float | None = None
    body: str = ""
    refused: bool = False

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _forbidden(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for label, test in (("loopback", address.is_loopback), ("link-local", address.is_link_local),
                        ("private", address.is_private), ("multicast", address.is_multicast),
                        ("reserved", address.is_reserved), ("unspecified", address.is_unspecified)):
        if test:
            return label
    return None if address.is_global else "non-public"


def resolve(host: str, port: int, *, allow_private: bool) -> str:
    """The address to connect to: every address ``host`` resolves to must be allowed."""
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ConnectionError(f"{host} does not resolve: {exc}") from None
    addresses = list(dict.fromkeys(str(answer[4][0]) for answer in answers))
    if not addresses:
        raise ConnectionError(f"{host} does not resolve")
    if not allow_private:
        for address in addresses:
            label = _forbidden(ipaddress.ip_address(address.split("%", 1)[0]))
            if label:
                shown = host if host == address else f"{host} ({address})"
                raise Refused(f"{shown} is a {label} address; refused (WEBHOOK_ALLOW_PRIVATE=1 allows it)")
    return addresses[0]


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the checked address; the Host header keeps the URL's name."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPSConnection(_PinnedHTTPConnection):
    default_port = http.client.HTTPS_PORT

    def connect(self) -> None:
        super().connect()
        self.sock = ssl.create_default_context().wrap_socket(self.sock, server_hostname=self.host)


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds (a number of seconds or an HTTP date), at most a day."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(min(int(value), MAX_RETRY_AFTER_S))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, min((when - timezone.now()).total_seconds(), MAX_RETRY_AFTER_S))


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float, allow_private: bool,
         cap: int) -> Outcome:
    """POST ``body`` to ``url``; never raises for anything the target does."""
    started = time.monotonic()

    def elapsed_ms() -> int:
        return int((time.monotonic() - started) * 1000)

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return Outcome(None, 0, f"refused: {url!r} is not an http(s) URL", refused=True)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return Outcome(None, 0, "refused: the URL's port is invalid", refused=True)
    try:
        address = resolve(parts.hostname, port, allow_private=allow_private)
    except Refused as exc:
        return Outcome(None, elapsed_ms(), f"refused: {exc}", refused=True)
    except ConnectionError as exc:
        return Outcome(None, elapsed_ms(), str(exc)[:500])
    kind = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    connection = kind(parts.hostname, port, address, timeout)
    deadline_passed = threading.Event()

    def cut_off() -> None:
        # One deadline for the whole exchange: a server dripping its answer a byte at a time
        # is cut off here, however short each wait on the socket is.
        deadline_passed.set()
        sock = connection.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    timer = threading.Timer(timeout, cut_off)
    timer.daemon = True
    timer.start()
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        answer = response.read(cap)
        status = response.status
        retry_after = parse_retry_after(response.getheader("Retry-After"))
    except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
        if deadline_passed.is_set() or isinstance(exc, TimeoutError):
            return Outcome(None, elapsed_ms(), f"timed out after {timeout:g} s")
        return Outcome(None, elapsed_ms(), f"{type(exc).__name__}: {exc}"[:500])
    finally:
        timer.cancel()
        connection.close()
    if deadline_passed.is_set():
        return Outcome(None, elapsed_ms(), f"timed out after {timeout:g} s")
    error = ""
    if 300 <= status < 400:
        error = "redirects are not followed: give the final URL"
    elif not 200 <= status < 300:
        error = f"answered {status}"
    return Outcome(status, elapsed_ms(), error, retry_after, answer.decode("utf-8", "replace"))
