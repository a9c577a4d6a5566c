"""The load generator itself: latency from the intended send time (no coordinated omission),
loopback only, closed loop counting what it completes."""
from __future__ import annotations

import asyncio
import time

import pytest

from bench import httpload
from bench.stats import percentile, summarize_ms

STALL_SECONDS = 0.5


class StallingServer(asyncio.Protocol):
    """Answers 200 at once, except that it stalls once, STALL_SECONDS, on its 20th request."""

    served = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        for _ in range(data.count(b"\r\n\r\n")):
            StallingServer.served += 1
            if StallingServer.served == 20:
                time.sleep(STALL_SECONDS)  # blocks the whole server, as a stuck worker would
            self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")


async def _serve_and_load(spec: dict) -> dict:
    StallingServer.served = 0
    server = await asyncio.get_running_loop().create_server(StallingServer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    job = httpload.open_loop if spec["mode"] == "open" else httpload.closed_loop
    try:
        return await job({"host": "127.0.0.1", "port": port, "paths": ["/a", "/b"], **spec})
    finally:
        server.close()


async def test_open_loop_charges_a_stall_to_every_request_that_should_have_gone_out():
    result = await _serve_and_load({"mode": "open", "rate": 100, "duration": 1.5, "max_connections": 4})
    assert result["sent"] == 150 and result["statuses"] == {"200": 150} and not result["errors"]
    latency = result["latency"]
    # The one stalled answer takes 0.5 s; measured from the intended times, the requests due
    # during the stall (about 50 at 100/s) queue behind it, so the slowest few percent are all
    # stall-sized. A closed-loop tool would report a single slow request and a clean p99.
    assert latency["max_ms"] >= STALL_SECONDS * 1000 * 0.9
    assert latency["p90_ms"] >= 100
    assert latency["p50_ms"] < 100  # most requests were not due during the stall


async def test_closed_loop_counts_completed_requests_over_the_duration():
    result = await _serve_and_load({"mode": "closed", "connections": 4, "duration": 1, "warmup": 0.2})
    assert result["completed"] > 100
    assert result["throughput_rps"] == pytest.approx(result["completed"] / 1, rel=0.01)
    assert set(result["statuses"]) == {"200"}


def test_load_is_only_sent_to_loopback_addresses():
    httpload.require_loopback("127.0.0.1")
    httpload.require_loopback("::1")
    for outside in ("10.0.0.1", "192.168.1.10", "8.8.8.8"):
        with pytest.raises(ValueError, match="only loopback"):
            httpload.require_loopback(outside)


def test_percentiles_are_nearest_rank_over_every_sample():
    samples = [i / 1000 for i in range(1, 101)]  # 1 … 100 ms
    assert percentile(samples, 0.5) == 0.05
    assert percentile(samples, 0.99) == 0.099
    summary = summarize_ms(samples)
    assert (summary["count"], summary["p50_ms"], summary["p99_ms"], summary["max_ms"]) == (100, 50.0, 99.0, 100.0)
    assert summarize_ms([])["p99_ms"] is None
