"""HTTP/1.1 load on 127.0.0.1: fixed-rate (open loop) and closed loop, over keep-alive sockets.

Open loop, without coordinated omission: request *i* has an intended send time
``start + i / rate`` fixed before the run, and its latency is measured from that intended time,
not from when it could actually be sent. A server that stalls therefore pays for every request
that should have gone out meanwhile, as real clients would make it pay. Connections come from a
pool that grows (up to a bound) when all are busy, like a crowd of independent clients.

Closed loop: N connections, each sending its next request as soon as the previous answer
arrived, for a fixed time: the saturation throughput.

Runs as its own process (``python -m bench.httpload`` with a JSON spec on
stdin, a JSON result on stdout) so that it does not share a GIL with anything, and reports its
own CPU time: on a 2-core machine the generator competes with the server.
"""
from __future__ import annotations

import asyncio
import ipaddress
import json
import resource
import sys
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

import httptools

from bench.stats import summarize_ms


def require_loopback(host: str) -> None:
    """Load is only ever sent to this machine."""
    if host == "localhost" or ipaddress.ip_address(host).is_loopback:
        return
    raise ValueError(f"refusing to send load to {host}: only loopback addresses are allowed")


def raw_request(method: str, path: str, host: str, port: int, headers: dict[str, str] | None = None,
                body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: keep-alive"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body or method not in ("GET", "HEAD"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class Connection(asyncio.Protocol):
    """One keep-alive connection with at most one request in flight."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.usable = True
        self.answered = 0  # responses received on this connection
        self.keep_body = False
        self.body: list[bytes] = []

    # -- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(ConnectionError(f"bad response: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.usable = False
        self._fail(ConnectionError("connection closed by the server"))

    # -- httptools callbacks
    def on_body(self, body: bytes) -> None:
        if self.keep_body:
            self.body.append(body)

    def on_message_complete(self) -> None:
        self.answered += 1
        if not self.parser.should_keep_alive():
            self.usable = False
            if self.transport is not None:
                self.transport.close()
        waiter, self.waiter = self.waiter, None
        if self.timer is not None:
            self.timer.cancel()
        if waiter is not None and not waiter.done():
            waiter.set_result((self.parser.get_status_code(), b"".join(self.body)))

    # -- use
    def _fail(self, exc: Exception) -> None:
        waiter, self.waiter = self.waiter, None
        if self.timer is not None:
            self.timer.cancel()
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def _timed_out(self) -> None:
        self.usable = False
        self._fail(TimeoutError("no answer in time"))
        if self.transport is not None:
            self.transport.abort()

    def request(self, raw: bytes, timeout: float, keep_body: bool = False) -> asyncio.Future[tuple[int, bytes]]:
        """Send one request; the future gives (status, body if keep_body)."""
        assert self.waiter is None and self.transport is not None
        self.keep_body, self.body = keep_body, []
        self.waiter = self.loop.create_future()
        self.timer = self.loop.call_later(timeout, self._timed_out)
        self.transport.write(raw)
        return self.waiter


async def connect(host: str, port: int) -> Connection:
    require_loopback(host)
    _, protocol = await asyncio.get_running_loop().create_connection(Connection, host, port)
    return protocol


class Pool:
    """Keep-alive connections, grown on demand up to ``limit``; beyond it requests queue (and
    their queueing time counts, since latency runs from the intended send time)."""

    def __init__(self, host: str, port: int, limit: int) -> None:
        self.host, self.port, self.limit = host, port, limit
        self.idle: list[Connection] = []
        self.total = 0
        self.peak = 0
        self.waiters: deque[asyncio.Future[Connection | None]] = deque()

    async def acquire(self) -> Connection:
        while True:
            while self.idle:
                conn = self.idle.pop()
                if conn.usable:
                    return conn
                self.total -= 1
            if self.total < self.limit:
                self.total += 1
                self.peak = max(self.peak, self.total)
                try:
                    return await connect(self.host, self.port)
                except BaseException:  # refused, or cancelled by the run's deadline
                    self.total -= 1
                    raise
            waiter: asyncio.Future[Connection | None] = asyncio.get_running_loop().create_future()
            self.waiters.append(waiter)
            conn = await waiter
            if conn is not None and conn.usable:
                return conn
            if conn is not None:
                self.total -= 1

    def release(self, conn: Connection) -> None:
        if not conn.usable:
            self.total -= 1
            conn = None  # type: ignore[assignment]
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        if conn is not None:
            self.idle.append(conn)

    def close(self) -> None:
        for conn in self.idle:
            if conn.transport is not None:
                conn.transport.close()


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    retried: int = 0

    def ok(self, status: int, latency: float) -> None:
        self.statuses[str(status)] += 1
        self.latencies.append(latency)

    def failed(self, exc: BaseException, latency: float | None = None) -> None:
        self.errors[type(exc).__name__] += 1
        if latency is not None:
            self.latencies.append(latency)


def _requests(spec: dict[str, Any]) -> list[bytes]:
    host, port = spec["host"], spec["port"]
    return [raw_request("GET", path, host, port, spec.get("headers")) for path in spec["paths"]]


async def open_loop(spec: dict[str, Any]) -> dict[str, Any]:
    """``rate`` requests per second for ``duration`` seconds, latency from the intended time."""
    rate, duration, timeout = float(spec["rate"]), float(spec["duration"]), float(spec.get("timeout", 5))
    requests = _requests(spec)
    pool = Pool(spec["host"], spec["port"], int(spec.get("max_connections", 256)))
    tally, lags = Tally(), []
    total = int(rate * duration)

    async def one(raw: bytes, intended: float) -> None:
        conn: Connection | None
        try:
            # Bounded in time: a request still queued for a connection at the deadline fails.
            conn = await asyncio.wait_for(pool.acquire(), max(0.001, deadline - time.monotonic()))
        except OSError as exc:
            tally.failed(exc, time.monotonic() - intended)
            return
        try:
            try:
                status, _ = await conn.request(raw, timeout)
            except ConnectionError:
                if not conn.answered:
                    raise
                # The server closed an idle keep-alive connection as we reused it (gunicorn
                # does after 2 s): like any HTTP client, send the GET again on a new one.
                pool.release(conn)
                conn = None
                tally.retried += 1
                conn = await pool.acquire()
                status, _ = await conn.request(raw, timeout)
            tally.ok(status, time.monotonic() - intended)
        except OSError as exc:  # refused, reset, timed out (TimeoutError is an OSError)
            # A timed-out request counts with its latency so far: dropping it would hide the stall.
            tally.failed(exc, time.monotonic() - intended)
        finally:
            if conn is not None:
                pool.release(conn)

    # Warm the pool a little so the first requests do not all pay a connect.
    warm = [await connect(spec["host"], spec["port"]) for _ in range(min(8, pool.limit))]
    pool.idle.extend(warm)
    pool.total = pool.peak = len(warm)

    tasks = []
    start = time.monotonic() + 0.05
    deadline = start + duration + timeout
    for i in range(total):
        intended = start + i / rate
        delay = intended - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        lags.append(max(0.0, time.monotonic() - intended))
        tasks.append(asyncio.ensure_future(one(requests[i % len(requests)], intended)))
    await asyncio.gather(*tasks)
    elapsed = time.monotonic() - start
    pool.close()
    lags.sort()
    return {
        "mode": "open", "rate": rate, "duration_s": duration, "sent": total,
        "completed": sum(tally.statuses.values()), "elapsed_s": round(elapsed, 3),
        "latency": summarize_ms(tally.latencies), "statuses": dict(tally.statuses), "errors": dict(tally.errors),
        "retried_on_closed_keepalive": tally.retried, "connections_peak": pool.peak,
        # How late the generator itself sent requests: large values mean it, not the server, lagged.
        "send_lag_p99_ms": round(lags[int(0.99 * (len(lags) - 1))] * 1000, 2) if lags else None,
        "send_lag_max_ms": round(lags[-1] * 1000, 2) if lags else None,
    }


async def closed_loop(spec: dict[str, Any]) -> dict[str, Any]:
    """``connections`` clients, each sending as soon as its previous answer came, for ``duration`` s
    after ``warmup`` s."""
    duration, warmup = float(spec["duration"]), float(spec.get("warmup", 1))
    timeout = float(spec.get("timeout", 5))
    requests = _requests(spec)
    tally = Tally()
    measure_from = time.monotonic() + warmup
    deadline = measure_from + duration

    async def client(index: int) -> None:
        conn = await connect(spec["host"], spec["port"])
        i = index
        while True:
            sent = time.monotonic()
            if sent >= deadline:
                break
            try:
                status, _ = await conn.request(requests[i % len(requests)], timeout)
                if sent >= measure_from:
                    tally.ok(status, time.monotonic() - sent)
            except (ConnectionError, TimeoutError) as exc:
                if sent >= measure_from:
                    tally.failed(exc)
                conn = await connect(spec["host"], spec["port"])
            if not conn.usable:
                conn = await connect(spec["host"], spec["port"])
            i += int(spec["connections"])
        if conn.transport is not None:
            conn.transport.close()

    await asyncio.gather(*(client(i) for i in range(int(spec["connections"]))))
    completed = sum(tally.statuses.values())
    return {
        "mode": "closed", "connections": int(spec["connections"]), "duration_s": duration,
        "completed": completed, "throughput_rps": round(completed / duration, 1),
        "latency": summarize_ms(tally.latencies), "statuses": dict(tally.statuses), "errors": dict(tally.errors),
    }


def run(spec: dict[str, Any]) -> dict[str, Any]:
    require_loopback(spec["host"])
    job = open_loop if spec["mode"] == "open" else closed_loop
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.monotonic()
    try:
        import uvloop

        result = uvloop.run(job(spec))
    except ImportError:  # pragma: no cover - uvloop is pinned in requirements.txt
        result = asyncio.run(job(spec))
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    result["generator_cpu_s"] = round(cpu, 2)
    result["generator_cpu_share"] = round(cpu / max(1e-9, time.monotonic() - started), 2)
    return result


if __name__ == "__main__":
    print(json.dumps(run(json.load(sys.stdin))))
