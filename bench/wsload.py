"""Tracker sockets under load: hold thousands, and time pushes from the HTTP write to each socket.

Runs as its own process (``python -m bench.wsload``), driven by JSON lines on
stdin, one JSON line answered on stdout per command:

  {"cmd": "open", "url": "ws://127.0.0.1:P/ws/track/", "origin": ..., "tokens": [...]}
      one socket per token (a token may repeat: several trackers on one order)
  {"cmd": "count"}       sockets still open, and close codes seen
  {"cmd": "push", ...}   driver location updates at a fixed rate; push latency and reach
  {"cmd": "close"}       close every socket
  {"cmd": "exit"}

Push latency runs from the *intended* send time of the ``POST /api/drivers/{id}/location`` (a
fixed schedule, as in ``httpload``) to the arrival of the fragment on each socket watching that
order. Updates of one order are spaced far apart (a whole round over all orders), so a message
is attributed to the last update of its order sent before it; reach is the share of
(update, watching socket) pairs that got their fragment.
"""
from __future__ import annotations

import asyncio
import bisect
import json
import resource
import sys
import time
from collections import Counter
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from bench.httpload import Pool, raw_request, require_loopback
from bench.stats import summarize_ms


class Trackers:
    def __init__(self) -> None:
        self.sockets: list[ClientConnection] = []
        self.keys: list[str] = []            # the order (token) each socket watches
        self.arrivals: list[list[float]] = []  # monotonic arrival times, per socket
        self.readers: list[asyncio.Task[None]] = []
        self.close_codes: Counter[str] = Counter()

    async def _read(self, index: int, ws: ClientConnection) -> None:
        arrivals = self.arrivals[index]
        try:
            async for _ in ws:
                arrivals.append(time.monotonic())
        except ConnectionClosed:
            pass
        self.close_codes[str(ws.close_code)] += 1

    async def open(self, url: str, origin: str, tokens: list[str], *, concurrency: int,
                   compression: bool) -> dict[str, Any]:
        limit = asyncio.Semaphore(concurrency)
        failures: Counter[str] = Counter()
        started = time.monotonic()

        async def one(token: str) -> None:
            async with limit:
                try:
                    ws = await connect(f"{url}{token}/", origin=origin, open_timeout=60, ping_interval=None,
                                       compression="deflate" if compression else None, max_queue=None)
                except (OSError, InvalidStatus, TimeoutError) as exc:
                    failures[type(exc).__name__] += 1
                    return
            index = len(self.sockets)
            self.sockets.append(ws)
            self.keys.append(token)
            self.arrivals.append([])
            self.readers.append(asyncio.ensure_future(self._read(index, ws)))

        await asyncio.gather(*(one(token) for token in tokens))
        # A refused tracker is accepted then closed (4xxx): give such closes a moment to arrive.
        await asyncio.sleep(0.5)
        return {"opened": len(self.sockets), "failed": sum(failures.values()), "failures": dict(failures),
                "seconds": round(time.monotonic() - started, 2), **self.count()}

    def count(self) -> dict[str, Any]:
        return {"open": sum(1 for ws in self.sockets if ws.close_code is None),
                "close_codes": dict(self.close_codes)}

    async def push(self, spec: dict[str, Any]) -> dict[str, Any]:
        host, port = "127.0.0.1", int(spec["http_port"])
        require_loopback(host)
        headers = {"Authorization": f"Token {spec['api_token']}", "Content-Type": "application/json"}
        updates, rate = spec["updates"], float(spec["rate"])
        pool = Pool(host, port, 64)
        watchers: dict[str, list[int]] = {}
        for index, key in enumerate(self.keys):
            watchers.setdefault(key, []).append(index)
        for arrivals in self.arrivals:
            arrivals.clear()
        sent_at: list[float] = []
        statuses: Counter[str] = Counter()
        post_latency: list[float] = []

        async def post(update: dict[str, Any], intended: float) -> None:
            body = json.dumps({"lat": update["lat"], "lng": update["lng"], "heading": 90.0,
                               "speed_kmh": 18.0}).encode()
            raw = raw_request("POST", f"/api/drivers/{update['driver_id']}/location", host, port, headers, body)
            conn = await pool.acquire()
            try:
                status, _ = await conn.request(raw, 10)
                statuses[str(status)] += 1
            except (ConnectionError, TimeoutError) as exc:
                statuses[type(exc).__name__] += 1
            finally:
                pool.release(conn)
            post_latency.append(time.monotonic() - intended)

        tasks = []
        start = time.monotonic() + 0.1
        for i, update in enumerate(updates):
            intended = start + i / rate
            delay = intended - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            sent_at.append(intended)
            tasks.append(asyncio.ensure_future(post(update, intended)))
        await asyncio.gather(*tasks)
        await asyncio.sleep(float(spec.get("settle", 2)))
        pool.close()

        # Attribute each arrival to the last update of its order sent before it.
        next_on_order: dict[int, float] = {}
        last_seen: dict[str, float] = {}
        for i in range(len(updates) - 1, -1, -1):
            key = updates[i]["key"]
            next_on_order[i] = last_seen.get(key, float("inf"))
            last_seen[key] = sent_at[i]
        latencies, expected, received = [], 0, 0
        for i, update in enumerate(updates):
            for index in watchers.get(update["key"], []):
                expected += 1
                arrivals = self.arrivals[index]
                at = bisect.bisect_left(arrivals, sent_at[i])
                if at < len(arrivals) and arrivals[at] < next_on_order[i]:
                    received += 1
                    latencies.append(arrivals[at] - sent_at[i])
        return {
            "updates": len(updates), "rate": rate, "sockets": len(self.sockets),
            "orders_watched": len(watchers), "expected": expected, "received": received,
            "reach": round(received / expected, 4) if expected else None,
            "push_latency": summarize_ms(latencies), "post_latency": summarize_ms(post_latency),
            "post_statuses": dict(statuses), **self.count(),
        }

    async def close(self) -> dict[str, Any]:
        await asyncio.gather(*(ws.close() for ws in self.sockets), return_exceptions=True)
        await asyncio.gather(*self.readers, return_exceptions=True)
        closed = len(self.sockets)
        self.__init__()  # type: ignore[misc]
        return {"closed": closed}


async def serve() -> None:
    trackers = Trackers()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**26)  # a command carries thousands of tokens
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        command = json.loads(line)
        cmd = command.pop("cmd")
        if cmd == "open":
            require_loopback(command["url"].split("//", 1)[1].split(":", 1)[0])
            answer = await trackers.open(command["url"], command["origin"], command["tokens"],
                                         concurrency=int(command.get("concurrency", 100)),
                                         compression=bool(command.get("compression", True)))
        elif cmd == "count":
            answer = trackers.count()
        elif cmd == "push":
            answer = await trackers.push(command)
        elif cmd == "close":
            answer = await trackers.close()
        elif cmd == "exit":
            await trackers.close()
            break
        else:
            answer = {"error": f"unknown command {cmd}"}
        usage = resource.getrusage(resource.RUSAGE_SELF)
        answer["client_cpu_s"] = round(usage.ru_utime + usage.ru_stime, 2)
        answer["client_rss_mb"] = round(usage.ru_maxrss / 1024, 1)
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    import uvloop

    uvloop.run(serve())
