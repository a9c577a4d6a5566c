"""The benchmark scenario: what is measured, in which order, against which targets.

For each serving layout (and channel layer) the product is started fresh on the same seeded data:
1. HTTP: the delivery endpoint and ``/api/state`` at fixed rates (open loop), then saturated
   (closed loop: Debian's ``wrk`` when installed, else the Python generator).
2. WebSockets: the ``hold_sockets`` sizes opened and held (memory per socket from the server's
   RSS), then push latency and reach at the ``push_sockets`` sizes.
3. Location updates (first layout): fixed rates and saturated, push latency to a tracker per
   order on the road, and CPU per update by part (app servers, relay, database, Redis).
Then event batches per second through the dispatcher (services in a loop, end to end), lifecycle
batches from 1, 4 and 8 concurrent writers with the order kept checked, and last the growth run:
millions of published position reports stored, the fixed-rate runs and the most writers measured
again and compared with the empty run. ``makerun`` is `make run`'s own layout, Caddy in front,
read against the bare view's ceiling (``calibrate``).
"""
from __future__ import annotations

import json
import os
import random
import re
import resource
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench import machine, report
from bench.stack import LAYOUTS, BenchStack, Server, http_get, raise_open_files_limit, wait_ready


# What a run measures, in this order (``--stages`` picks some).
STAGES = {
    "http": "the delivery endpoint and /api/state at fixed rates and saturated, on every layout",
    "ws": "WebSocket sockets held, and push latency",
    "location": "location updates at fixed rates and saturated, with push latency and CPU per update",
    "events": "event batches through the dispatcher (services in a loop), and lifecycle batches with "
              "concurrent writers, with order kept",
    "growth": "after the others: millions of published position reports stored, then the delivery endpoint, "
              "location updates and the lifecycle writers again, against the empty run",
}


@dataclass
class BenchOptions:
    orders: int = 10_000
    drivers: int = 200
    # The first is production's; the others are measured for comparison (HTTP only).
    layouts: list[str] = field(default_factory=lambda: ["granian", "makerun", "gunicorn", "asgi"])
    layers: list[str] = field(default_factory=lambda: ["pubsub", "core"])
    workers: int = 2
    threads: int = 2  # per WSGI worker: more only adds GIL contention (measured)
    duration: float = 10.0
    delivery_rates: list[int] = field(default_factory=lambda: [100, 200, 400, 800])
    state_rates: list[int] = field(default_factory=lambda: [100, 300, 600])
    saturation_connections: int = 64
    saturation_duration: float = 10.0
    saturation_tool: str = "auto"
    push_sockets: list[int] = field(default_factory=lambda: [100, 1000])
    push_rate: float = 20.0
    push_duration: float = 10.0
    push_orders: int = 0  # spread the sockets over at most this many orders (0: every active one)
    hold_sockets: list[int] = field(default_factory=lambda: [1000, 10_000])
    hold_seconds: float = 5.0
    ws_compression: bool = True
    # permessage-deflate for the held sockets: off (production's, WS_PER_MESSAGE_DEFLATE=0), on
    # (uvicorn's own default), or both (a second uvicorn with it on).
    ws_server_compression: str = "both"
    event_duration: float = 10.0
    # Lifecycle batches: this many concurrent writers, event_duration seconds each.
    writers: list[int] = field(default_factory=lambda: [1, 4, 8])
    # Published position reports stored before the growth run re-measures (0 skips it).
    growth_events: int = 10_000_000
    # Location updates (POST /api/drivers/{id}/location) at fixed rates, then saturated, with a
    # tracker socket on every order on the road timing the pushes.
    location_rates: list[int] = field(default_factory=lambda: [100, 250, 500, 1000])
    location_duration: float = 10.0
    stages: list[str] = field(default_factory=lambda: list(STAGES))
    var_dir: Path = Path("var/bench")

    @classmethod
    def quick(cls, **overrides: Any) -> BenchOptions:
        """About two minutes: one layout, smaller data and shorter runs; same targets."""
        values: dict[str, Any] = {"orders": 2_000, "drivers": 100, "layouts": ["granian", "makerun"],
                                  "layers": ["pubsub"], "growth_events": 0,
                                  "duration": 4, "delivery_rates": [200], "state_rates": [300],
                                  "saturation_duration": 4, "push_sockets": [100, 1000], "push_duration": 5,
                                  "hold_sockets": [1000], "hold_seconds": 2, "event_duration": 4,
                                  "location_rates": [250], "location_duration": 4}
        values.update(overrides)
        return cls(**values)


def _log(say: Callable[[str], None], message: str) -> None:
    # UTC: loading Django's settings (the server command helpers read them) sets the process's
    # TZ to TIME_ZONE midway, and local times would jump.
    say(f"[{datetime.now(timezone.utc):%H:%M:%S}Z] {message}")


class WsClients:
    """The ``wsload`` process, spoken to one JSON line at a time."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "bench.wsload"], cwd=cwd, env=env,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def call(self, command: dict[str, Any], timeout: float = 300) -> dict[str, Any]:
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        if not ready:
            raise TimeoutError(f"wsload did not answer {command['cmd']} within {timeout:.0f} s")
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("wsload exited")
        return json.loads(line)

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.call({"cmd": "exit"}, timeout=30)
            except (OSError, TimeoutError, RuntimeError, ValueError):
                pass
            self.process.kill()
            self.process.wait()


class Bench:
    def __init__(self, options: BenchOptions, base_dir: Path, say: Callable[[str], None]) -> None:
        self.options = options
        self.base_dir = base_dir
        self.say = say
        var_dir = options.var_dir if options.var_dir.is_absolute() else base_dir / options.var_dir
        self.stack = BenchStack(var_dir=var_dir, base_dir=base_dir)
        self.dataset: dict[str, Any] = {}
        self.results: dict[str, Any] = {}
        self.rng = random.Random(11)

    # -- plumbing -------------------------------------------------------------------------------
    def log(self, message: str) -> None:
        _log(self.say, message)

    def worker(self, job: str, args: dict[str, Any], timeout: float = 900) -> dict[str, Any]:
        done = subprocess.run([sys.executable, "-m", "bench.worker", job], input=json.dumps(args),
                              capture_output=True, text=True, env=self.stack.env(), cwd=self.base_dir, check=False,
                              timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"bench worker {job} failed:\n{done.stderr[-4000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])

    def settle(self, servers: list[Server]) -> None:
        """Before a measured run: the servers have drained what the previous run left queued
        (an overloaded fixed-rate run leaves a backlog behind)."""
        waited = max(wait_until_idle(server) for server in servers)
        if waited > 2:
            self.log(f"  (waited {waited:.1f} s for the servers to drain the previous run)")

    def generator(self, spec: dict[str, Any], servers: list[Server]) -> dict[str, Any]:
        """One load run in its own process, with the servers' CPU use over it."""
        self.settle(servers)
        cpu_before = sum(s.cpu_seconds() for s in servers)
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "bench.httpload"], input=json.dumps(spec),
                              capture_output=True, text=True, cwd=self.base_dir, check=False,
                              env={**os.environ, "PYTHONPATH": str(self.base_dir)},
                              timeout=float(spec["duration"]) + float(spec.get("warmup", 0)) + 120)
        if done.returncode != 0:
            raise RuntimeError(f"load generator failed:\n{done.stderr[-4000:]}")
        result = json.loads(done.stdout)
        cpu = sum(s.cpu_seconds() for s in servers) - cpu_before
        result["server_cpu_cores"] = round(cpu / (time.monotonic() - started), 2)
        # CPU per request barely depends on what else the machine runs: the steadiest figure.
        result["server_cpu_ms_per_request"] = round(1000 * cpu / max(1, result["completed"]), 3)
        return result

    def wrk(self, port: int, paths: list[str], headers: dict[str, str], servers: list[Server]) -> dict[str, Any]:
        """Saturation with Debian's wrk (C, event-driven): far less CPU taken from the server."""
        self.settle(servers)
        script = self.stack.var_dir / "wrk-paths.lua"
        quoted = ", ".join(json.dumps(p) for p in paths)
        script.write_text(f"local paths = {{{quoted}}}\nlocal i = 0\n"
                          "request = function()\n  i = i + 1\n  return wrk.format('GET', paths[(i % #paths) + 1])\nend\n")
        argv = ["wrk", "-t1", f"-c{self.options.saturation_connections}",
                f"-d{max(1, round(self.options.saturation_duration))}s", "--latency", "-s", str(script)]
        for name, value in headers.items():
            argv += ["-H", f"{name}: {value}"]
        argv.append(f"http://127.0.0.1:{port}")
        cpu_before = sum(s.cpu_seconds() for s in servers)
        usage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.monotonic()
        done = subprocess.run(argv, capture_output=True, text=True, check=False,
                              timeout=self.options.saturation_duration + 60)
        elapsed = time.monotonic() - started
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        text = done.stdout

        def latency(label: str) -> float | None:
            found = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", text, re.MULTILINE)
            if not found:
                return None
            value, unit = float(found.group(1)), found.group(2)
            return round(value / 1000 if unit == "us" else value * 1000 if unit == "s" else value, 2)

        rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
        completed = re.search(r"(\d+) requests in", text)
        server_cpu = sum(s.cpu_seconds() for s in servers) - cpu_before
        non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
        errors = re.search(r"Socket errors: (.*)", text)
        cpu = (usage.ru_utime - usage_before.ru_utime) + (usage.ru_stime - usage_before.ru_stime)
        return {"mode": "closed", "tool": "wrk", "connections": self.options.saturation_connections,
                "duration_s": self.options.saturation_duration,
                "throughput_rps": float(rps.group(1)) if rps else None,
                "latency": {"p50_ms": latency("50"), "p90_ms": latency("90"), "p99_ms": latency("99")},
                "non_2xx": int(non_2xx.group(1)) if non_2xx else 0, "socket_errors": errors.group(1) if errors else None,
                "generator_cpu_share": round(cpu / elapsed, 2),
                "completed": int(completed.group(1)) if completed else None,
                "server_cpu_cores": round(server_cpu / elapsed, 2),
                "server_cpu_ms_per_request": round(1000 * server_cpu / int(completed.group(1)), 3)
                if completed and int(completed.group(1)) else None}

    # -- the scenario ---------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        options = self.options
        limits = raise_open_files_limit()
        self.log(f"open files limit raised to {limits[0]} (hard {limits[1]})")
        self.results = {"started_at": datetime.now().astimezone().isoformat(timespec="seconds"),
                        "load_average_at_start": machine.load_average(),
                        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(options).items()},
                        "notes": [("Rate limits are off for the load runs (RATELIMIT_ENABLE=0), and so is the "
                                   "per-client socket cap (one load generator holds every socket): the point is "
                                   "the serving path, not the refusal.")],
                        "runs": [], "load_average_during": []}
        if self.results["load_average_at_start"][0] > 0.5:
            self.results["notes"].append(f"the machine was not idle at the start (load average "
                                         f"{self.results['load_average_at_start']}): numbers may be pessimistic")
        self.stack.prepare()
        self.results["machine"] = machine.describe(database=self.stack.database_label, redis=self.stack.redis_label)
        self.log(f"database: {self.stack.database_label}; redis: {self.stack.redis_label}")
        self.log(f"seeding {options.orders} orders and {options.drivers} drivers …")
        self.dataset = self.worker("seed", {"orders": options.orders, "drivers": options.drivers})
        self.results["dataset"] = {"counts": self.dataset["counts"], "seconds": self.dataset["seconds"]}
        self.log(f"seeded: {self.dataset['counts']} in {self.dataset['seconds']}")

        stages = set(options.stages)
        if options.saturation_duration > 0 and "http" in stages:
            self.log("calibration: a bare Django view reading one Redis hash, saturated …")
            self.results["calibration"] = self.calibrate()
        for layout in options.layouts:
            first = layout == options.layouts[0]
            if "http" in stages or (first and stages & {"ws", "location"}):
                self.run_layout(layout, layer=options.layers[0], http="http" in stages, ws=first and "ws" in stages,
                                location=first and "location" in stages)
        if "ws" in stages:
            for layer in options.layers[1:]:
                self.run_layout(options.layouts[0], layer=layer, http=False, ws=True)

        if options.event_duration > 0 and "events" in stages:
            self.log(f"event batches through the dispatcher for {options.event_duration:.0f} s …")
            self.results["events"] = self.worker("events", {"duration": options.event_duration,
                                                            "active": self.dataset["active"]})
            self.log(f"events: {self.results['events']['batches_per_s']} batches/s")
        if options.event_duration > 0 and "events" in stages and options.writers:
            self.results["lifecycle"] = [self.lifecycle(writers) for writers in options.writers]
        if options.growth_events > 0 and "growth" in stages:
            self.results["growth"] = self.growth()
        self.results["finished_at"] = datetime.now().astimezone().isoformat(timespec="seconds")
        self.results["load_average_at_end"] = machine.load_average()
        self.results["targets"] = report.evaluate(self.results)
        return self.results

    def run_layout(self, layout: str, *, layer: str, http: bool, ws: bool, location: bool = False) -> None:
        options = self.options
        self.log(f"layout {layout} ({LAYOUTS[layout]}), channel layer {layer}")
        http_server, ws_server = self.stack.start_layout(layout, layer=layer, workers=options.workers,
                                                         threads=options.threads)
        # Every server of the layout (behind Caddy too), without the relay (metered on its own).
        servers = [s for s in self.stack.servers if s.alive() and not s.name.startswith("relay")]
        run: dict[str, Any] = {"layout": layout, "layer": layer, "description": LAYOUTS[layout],
                               "workers": options.workers, "threads": options.threads if layout != "asgi" else None,
                               "http": {}, "ws": {}}
        self.results["runs"].append(run)
        try:
            if http and (options.delivery_rates or options.state_rates or options.saturation_duration > 0):
                self.results["load_average_during"].append({"layout": layout, "before_http": machine.load_average()})
                run["http"]["delivery"] = self.http_endpoint(http_server, servers, "delivery")
                if layout == "makerun" and run["http"]["delivery"].get("saturation"):
                    # The same backend without Caddy in front: what the proxy costs.
                    backend = next(s for s in servers if s.name.startswith("makerun-granian"))
                    paths, headers = self._endpoint("delivery")
                    direct = self.saturate(backend, paths, headers, servers)
                    run["http"]["delivery"]["saturation_without_proxy"] = direct
                    self.log(f"  delivery saturation on make run's granian directly (no Caddy): "
                             f"{direct['throughput_rps']} req/s, p99 {direct['latency']['p99_ms']} ms")
                run["http"]["state"] = self.http_endpoint(http_server, servers, "state")
            if ws:
                run["ws"] = self.websockets(http_server, ws_server)
            if location:
                run["location"] = self.location(http_server, ws_server)
        finally:
            self.stack.stop_servers()

    # -- HTTP -------------------------------------------------------------------------------------
    def _endpoint(self, which: str) -> tuple[list[str], dict[str, str]]:
        api = {"Authorization": f"Token {self.dataset['api_token']}"}
        if which == "state":
            return ["/api/state"], api
        # Customers polling their tracker: active deliveries mostly, some just delivered, each
        # with its own tracking token (no API token: the customer's path through the API).
        watched = self.dataset["active"] + self.dataset["delivered"][:len(self.dataset["active"]) // 3]
        paths = [f"/api/orders/{o['order_id']}/delivery?token={o['token']}" for o in watched]
        self.rng.shuffle(paths)
        return paths, {}

    def http_endpoint(self, server: Server, servers: list[Server], which: str, *,
                      saturate: bool = True) -> dict[str, Any]:
        options = self.options
        paths, headers = self._endpoint(which)
        status, body = http_get(server.port, paths[0], headers)
        label = "/api/orders/{id}/delivery?token=…" if which == "delivery" else paths[0]
        result: dict[str, Any] = {"path": label, "probe_status": status, "fixed": []}
        if status != 200:
            result["skipped"] = f"probe answered {status}: {str(body)[:200]}"
            self.log(f"  {which}: skipped, {result['skipped']}")
            return result
        base = {"host": "127.0.0.1", "port": server.port, "paths": paths, "headers": headers}
        self.warm(server, paths, headers, servers)
        rates = options.delivery_rates if which == "delivery" else options.state_rates
        for rate in rates:
            run = self.generator({**base, "mode": "open", "rate": rate, "duration": options.duration,
                                  "max_connections": 256}, servers)
            lat = run["latency"]
            self.log(f"  {which} @ {rate} req/s: p50 {lat['p50_ms']} ms, p99 {lat['p99_ms']} ms, max {lat['max_ms']} ms, "
                     f"statuses {run['statuses']}, errors {run['errors']}, server CPU {run['server_cpu_cores']} cores")
            result["fixed"].append(run)
        if options.saturation_duration <= 0 or not saturate:
            return result
        saturation = self.saturate(server, paths, headers, servers)
        self.log(f"  {which} saturation ({saturation['tool']}, {options.saturation_connections} connections): "
                 f"{saturation['throughput_rps']} req/s, p99 {saturation['latency']['p99_ms']} ms, "
                 f"server CPU {saturation['server_cpu_cores']} cores, generator {saturation['generator_cpu_share']}")
        result["saturation"] = saturation
        return result

    def warm(self, server: Server, paths: list[str], headers: dict[str, str], servers: list[Server]) -> None:
        """Every worker's imports, connections and templates, before anything is timed."""
        self.generator({"host": "127.0.0.1", "port": server.port, "paths": paths, "headers": headers,
                        "mode": "closed", "connections": 8, "duration": min(2.0, self.options.duration),
                        "warmup": 0}, servers)

    def saturate(self, server: Server, paths: list[str], headers: dict[str, str],
                 servers: list[Server]) -> dict[str, Any]:
        """Closed-loop throughput: Debian's wrk when installed, else the Python generator."""
        tool = self.options.saturation_tool
        if tool == "auto":
            tool = "wrk" if shutil.which("wrk") else "python"
        if tool == "wrk":
            return self.wrk(server.port, paths, headers, servers)
        saturation = self.generator({"host": "127.0.0.1", "port": server.port, "paths": paths, "headers": headers,
                                     "mode": "closed", "connections": self.options.saturation_connections,
                                     "duration": self.options.saturation_duration, "warmup": 1}, servers)
        saturation["tool"] = "python (install Debian's wrk for a lighter generator)"
        return saturation

    def calibrate(self) -> dict[str, Any]:
        """What this machine can serve at all: the bare view of ``bench/bare.py`` saturated under
        gunicorn -w 2 (issue 6's yardstick) and under granian (production's HTTP server)."""
        out: dict[str, Any] = {"view": "bare Django view reading one Redis hash (pizzadelivery/bench/bare.py)",
                               "reference_gunicorn_rps": report.BARE_VIEW_REFERENCE_RPS}
        for name in ("gunicorn", "granian"):
            server = self.stack.bare_view(name, workers=self.options.workers, threads=self.options.threads)
            try:
                wait_ready(server)
                self.warm(server, ["/bare"], {}, [server])
                out[name] = self.saturate(server, ["/bare"], {}, [server])
            finally:
                self.stack.stop_server(server)
            self.log(f"  bare view under {name}: {out[name]['throughput_rps']} req/s")
        if out["gunicorn"]["throughput_rps"]:
            out["machine_factor"] = round(out["gunicorn"]["throughput_rps"] / report.BARE_VIEW_REFERENCE_RPS, 2)
        return out

    # -- WebSockets -------------------------------------------------------------------------------
    def _watched(self) -> list[dict[str, Any]]:
        active = self.dataset["active"]
        return active[:self.options.push_orders] if self.options.push_orders > 0 else active

    def _tokens(self, count: int) -> list[str]:
        """``count`` trackers spread evenly over the orders on the road."""
        active = self._watched()
        return [active[i % len(active)]["token"] for i in range(count)]

    def _updates(self, count: int) -> list[dict[str, Any]]:
        """Location updates round-robin over the watched deliveries, each a step along its route."""
        active = self._watched()
        updates = []
        for i in range(count):
            order = active[i % len(active)]
            share = min(0.95, 0.1 + 0.05 * (i // len(active)) + self.rng.uniform(0, 0.02))
            updates.append({"key": order["token"], "driver_id": order["driver_id"],
                            "lat": round(order["from"][0] + share * (order["to"][0] - order["from"][0]), 6),
                            "lng": round(order["from"][1] + share * (order["to"][1] - order["from"][1]), 6)})
        return updates

    def websockets(self, http_server: Server, ws_server: Server) -> dict[str, Any]:
        options = self.options
        token = self.dataset["active"][0]["token"]
        status, _ = http_get(http_server.port, f"/track/{token}/")
        out: dict[str, Any] = {"push": [], "hold": []}
        if status != 200:
            out["skipped"] = f"tracker page answered {status}"
            self.log(f"  websockets: skipped, {out['skipped']}")
            return out
        url = f"ws://127.0.0.1:{ws_server.port}/ws/track/"
        origin = f"http://127.0.0.1:{ws_server.port}"
        clients = WsClients({**os.environ, "PYTHONPATH": str(self.base_dir)}, self.base_dir)
        try:
            # Holds first, on a server that has not had a socket yet: Python keeps freed memory,
            # so every count is measured against this one baseline.
            # The layout's uvicorn runs as production does: permessage-deflate declined
            # (WS_PER_MESSAGE_DEFLATE=0); "on" is measured on a uvicorn of its own.
            if options.ws_server_compression in ("off", "both"):
                time.sleep(1)
                baseline = ws_server.rss_bytes()
                for count in options.hold_sockets:
                    out["hold"].append(self.hold(clients, ws_server, url, origin, count, baseline, deflate="off"))
            if options.ws_server_compression in ("on", "both") and options.hold_sockets:
                out["hold"] += self.hold_with_deflate(clients)
            if options.push_sockets:  # first writes of each process: imports, templates, connections
                clients.call({"cmd": "push", "http_port": http_server.port, "api_token": self.dataset["api_token"],
                              "updates": self._updates(20), "rate": 20, "settle": 0.5})
            for count in options.push_sockets:
                self.settle(list({id(s): s for s in (http_server, ws_server)}.values()))
                out["push"].append(self.push(clients, http_server, url, origin, count))
        finally:
            clients.close()
        return out

    def hold_with_deflate(self, clients: WsClients) -> list[dict[str, Any]]:
        """The holds again on a uvicorn of its own started with ``--ws-per-message-deflate
        true`` (uvicorn's own default; production declines it): the clients offer compression
        (browsers do) and the server accepts it."""
        layer = self.options.layers[0]
        server = self.stack.uvicorn(layer=layer, workers=1, ws_deflate=True)
        try:
            wait_ready(server)
            time.sleep(1)
            baseline = server.rss_bytes()
            url, origin = f"ws://127.0.0.1:{server.port}/ws/track/", f"http://127.0.0.1:{server.port}"
            return [self.hold(clients, server, url, origin, count, baseline, deflate="on")
                    for count in self.options.hold_sockets]
        finally:
            self.stack.stop_server(server)

    def hold(self, clients: WsClients, ws_server: Server, url: str, origin: str, count: int,
             baseline: int, *, deflate: str = "on") -> dict[str, Any]:
        opened = clients.call({"cmd": "open", "url": url, "origin": origin, "tokens": self._tokens(count),
                               "compression": self.options.ws_compression}, timeout=600)
        time.sleep(2)
        rss = ws_server.rss_bytes()
        time.sleep(self.options.hold_seconds)
        held = clients.call({"cmd": "count"})
        hold = {"sockets": count, "server_deflate": deflate, "client_offers_deflate": self.options.ws_compression,
                "opened": opened["opened"], "failed": opened["failed"],
                "failures": opened["failures"], "open_seconds": opened["seconds"],
                "held_after_s": self.options.hold_seconds + 2, "still_open": held["open"],
                "close_codes": held["close_codes"],
                "server_rss_before_mb": round(baseline / 2**20, 1), "server_rss_after_mb": round(rss / 2**20, 1),
                "kib_per_socket": round((rss - baseline) / 1024 / max(1, opened["opened"]), 1),
                "client_rss_mb": held["client_rss_mb"]}
        self.log(f"  held {hold['still_open']}/{count} sockets (opened in {hold['open_seconds']} s), "
                 f"{hold['kib_per_socket']} KiB per socket on the server (server deflate {deflate})")
        clients.call({"cmd": "close"}, timeout=300)
        # The server goes on tearing the sockets down (a group_discard each) after the client
        # has closed them: what is measured next must not share the CPU with that.
        settled = wait_until_idle(ws_server)
        self.log(f"  server idle again {settled:.1f} s after closing them")
        return hold

    def push(self, clients: WsClients, http_server: Server, url: str, origin: str, count: int) -> dict[str, Any]:
        opened = clients.call({"cmd": "open", "url": url, "origin": origin, "tokens": self._tokens(count),
                               "compression": self.options.ws_compression})
        updates = self._updates(max(1, int(self.options.push_rate * self.options.push_duration)))
        push = clients.call({"cmd": "push", "http_port": http_server.port, "api_token": self.dataset["api_token"],
                             "updates": updates, "rate": self.options.push_rate, "settle": 2})
        push["opened"] = opened
        lat = push["push_latency"]
        self.log(f"  push to {count} sockets over {push['orders_watched']} orders: p50 {lat['p50_ms']} ms, "
                 f"p99 {lat['p99_ms']} ms, reach {push['received']}/{push['expected']}, "
                 f"POST p99 {push['post_latency']['p99_ms']} ms {push['post_statuses']}")
        clients.call({"cmd": "close"})
        return push


    # -- location updates ---------------------------------------------------------------------
    def location(self, http_server: Server, ws_server: Server, *, saturate: bool = True) -> dict[str, Any]:
        """``POST /api/drivers/{id}/location`` at each fixed rate (open loop), then saturated
        (closed loop) while a slow probe keeps timing pushes; one tracker socket on every order on
        the road. CPU per update: the app servers' and the relay's, and the database's."""
        options = self.options
        servers = [s for s in self.stack.servers if s.alive()]
        url = f"ws://127.0.0.1:{ws_server.port}/ws/track/"
        origin = f"http://127.0.0.1:{ws_server.port}"
        active = self.dataset["active"]
        out: dict[str, Any] = {"trackers": len(active), "fixed": []}
        clients = WsClients({**os.environ, "PYTHONPATH": str(self.base_dir)}, self.base_dir)
        try:
            opened = clients.call({"cmd": "open", "url": url, "origin": origin,
                                   "tokens": [order["token"] for order in active],
                                   "compression": options.ws_compression})
            out["opened"] = opened["opened"]
            self.log(f"location updates: {opened['opened']} tracker sockets open, one per order on the road")
            clients.call({"cmd": "push", "http_port": http_server.port, "api_token": self.dataset["api_token"],
                          "updates": self._updates(len(active)), "rate": 100, "settle": 0.5})  # warm
            for rate in options.location_rates:
                self.settle(servers)
                cpu = self.stack.cpu_meter(servers)
                push = clients.call({"cmd": "push", "http_port": http_server.port,
                                     "api_token": self.dataset["api_token"],
                                     "updates": self._updates(int(rate * options.location_duration)), "rate": rate,
                                     "settle": 2}, timeout=options.location_duration * 10 + 120)
                push.update(cpu.per_unit(push["updates"]))
                out["fixed"].append(push)
                self.log(f"  location @ {rate}/s: POST p50 {push['post_latency']['p50_ms']} ms, "
                         f"p99 {push['post_latency']['p99_ms']} ms {push['post_statuses']}; push p99 "
                         f"{push['push_latency']['p99_ms']} ms, reach {push['reach']}; {_cpu_line(push)}")
            if saturate and options.saturation_duration > 0 and shutil.which("wrk"):
                out["saturation"] = self.location_saturation(clients, http_server, servers)
        finally:
            clients.close()
        return out

    def location_saturation(self, clients: WsClients, http_server: Server, servers: list[Server]) -> dict[str, Any]:
        """wrk posts positions of half the drivers on the road as fast as the server answers; a
        probe posts the other half's at 20/s and times their pushes meanwhile."""
        options = self.options
        active = self.dataset["active"]
        loaded, probed = active[::2], active[1::2]
        script = self.stack.var_dir / "wrk-location.lua"
        requests = []
        for i in range(2000):
            order = loaded[i % len(loaded)]
            share = 0.1 + 0.8 * (i // len(loaded)) / max(1, 2000 // len(loaded))
            body = json.dumps({"lat": round(order["from"][0] + share * (order["to"][0] - order["from"][0]), 6),
                               "lng": round(order["from"][1] + share * (order["to"][1] - order["from"][1]), 6),
                               "heading": 90.0, "speed_kmh": 18.0})
            requests.append((f"/api/drivers/{order['driver_id']}/location", body))
        paths = ", ".join(json.dumps(path) for path, _ in requests)
        bodies = ", ".join(json.dumps(body) for _, body in requests)
        script.write_text(f"local paths = {{{paths}}}\nlocal bodies = {{{bodies}}}\nlocal i = 0\n"
                          "wrk.method = 'POST'\nwrk.headers['Content-Type'] = 'application/json'\n"
                          "request = function()\n  i = i + 1\n  local k = (i % #paths) + 1\n"
                          "  return wrk.format('POST', paths[k], nil, bodies[k])\nend\n")
        self.settle(servers)
        cpu = self.stack.cpu_meter(servers)
        duration = max(4, round(options.saturation_duration))
        started = time.monotonic()
        wrk = subprocess.Popen(["wrk", "-t1", f"-c{options.saturation_connections}", f"-d{duration}s", "--latency",
                                "-H", f"Authorization: Token {self.dataset['api_token']}", "-s", str(script),
                                f"http://127.0.0.1:{http_server.port}"], stdout=subprocess.PIPE, text=True)
        time.sleep(1)  # the probe runs while wrk is saturating
        probe_updates = []
        for i in range(int(20 * (duration - 2))):
            order = probed[i % len(probed)]
            share = 0.2 + 0.6 * (i // len(probed)) / max(1, int(20 * duration) // len(probed))
            probe_updates.append({"key": order["token"], "driver_id": order["driver_id"],
                                  "lat": round(order["from"][0] + share * (order["to"][0] - order["from"][0]), 6),
                                  "lng": round(order["from"][1] + share * (order["to"][1] - order["from"][1]), 6)})
        probe = clients.call({"cmd": "push", "http_port": http_server.port, "api_token": self.dataset["api_token"],
                              "updates": probe_updates, "rate": 20, "settle": 0}, timeout=duration + 120)
        text, _ = wrk.communicate(timeout=duration + 60)
        elapsed = time.monotonic() - started
        completed = re.search(r"(\d+) requests in", text)
        rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
        non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
        total = (int(completed.group(1)) if completed else 0) + probe["updates"]
        result = {"tool": "wrk", "connections": options.saturation_connections, "duration_s": round(elapsed, 1),
                  "throughput_rps": float(rps.group(1)) if rps else None,
                  "latency": {f"p{q}_ms": _wrk_ms(text, q) for q in ("50", "90", "99")},
                  "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
                  "probe_push_latency": probe["push_latency"], "probe_reach": probe["reach"],
                  "probe_post_latency": probe["post_latency"], **cpu.per_unit(total)}
        self.log(f"  location saturation: {result['throughput_rps']} updates/s, p99 {result['latency']['p99_ms']} ms, "
                 f"non-2xx {result['non_2xx']}; probe push p99 {probe['push_latency']['p99_ms']} ms "
                 f"(reach {probe['reach']}); {_cpu_line(result)}")
        return result


    # -- lifecycle writers and growth ---------------------------------------------------------
    def lifecycle(self, writers: int) -> dict[str, Any]:
        """Lifecycle batches from ``writers`` concurrent writers (``bench.worker``'s
        ``lifecycle`` job), then the order of what they wrote checked in the database and Redis."""
        self.log(f"lifecycle batches, {writers} writer(s) for {self.options.event_duration:g} s …")
        result = self.worker("lifecycle", {"writers": writers, "duration": self.options.event_duration})
        lat = result["batch_latency"]
        self.log(f"  {writers} writer(s): {result['batches_per_s']} batches/s, p50 {lat['p50_ms']} ms, p99 "
                 f"{lat['p99_ms']} ms, rolled back {result['rolled_back_batches']}, failed calls "
                 f"{result['failed_calls'] or 0}; order kept: {result['order_kept']}"
                 + (f" ({result['reason']})" if result["reason"] else ""))
        return result

    def growth(self) -> dict[str, Any]:
        """Store ``growth_events`` published position reports, then measure again what the
        empty run measured (delivery endpoint and location updates at their fixed rates on the
        first layout, the lifecycle with the most writers) and compare."""
        options = self.options
        self.log(f"growth: storing {options.growth_events:,} published position reports …")
        grown = self.worker("grow", {"events": options.growth_events},
                            timeout=max(900, options.growth_events / 5_000))
        self.log(f"  inserted in {grown['insert_seconds']} s ({grown['events_per_s']:,} events/s), vacuum/analyze "
                 f"{grown['vacuum_analyze_seconds']} s; sizes {grown['sizes_after']}, "
                 f"{grown['bytes_per_event']} bytes per event")
        out: dict[str, Any] = {"stored": grown}
        layout, layer = options.layouts[0], options.layers[0]
        http_server, ws_server = self.stack.start_layout(layout, layer=layer, workers=options.workers,
                                                         threads=options.threads)
        servers = [s for s in self.stack.servers if s.alive() and not s.name.startswith("relay")]
        try:
            if options.delivery_rates:
                out["delivery"] = self.http_endpoint(http_server, servers, "delivery", saturate=False)
            if options.location_rates:
                out["location"] = self.location(http_server, ws_server, saturate=False)
        finally:
            self.stack.stop_servers()
        if options.writers and options.event_duration > 0:
            out["lifecycle"] = self.lifecycle(max(options.writers))
        out["ratios"] = growth_ratios(self.results, out, layout)
        for row in out["ratios"]:
            self.log(f"  growth: {row['what']}: {row['empty']} → {row['grown']} (×{row['ratio']})")
        return out


def growth_ratios(results: dict[str, Any], grown: dict[str, Any], layout: str) -> list[dict[str, Any]]:
    """Each latency of the growth run beside the empty run's, as a ratio (grown / empty)."""
    rows: list[dict[str, Any]] = []

    def add(what: str, empty: Any, after: Any) -> None:
        if empty is None or after is None:
            return
        rows.append({"what": what, "empty": empty, "grown": after,
                     "ratio": round(after / empty, 2) if empty else None})

    run = next((r for r in results.get("runs", []) if r["layout"] == layout and r["http"].get("delivery")), None)
    if run and grown.get("delivery"):
        for fixed in grown["delivery"].get("fixed", []):
            before = next((f for f in run["http"]["delivery"].get("fixed", []) if f["rate"] == fixed["rate"]), None)
            if before:
                for q in ("p50", "p99"):
                    add(f"delivery {fixed['rate']:.0f} req/s {q} ms", before["latency"][f"{q}_ms"],
                        fixed["latency"][f"{q}_ms"])
    location = next((r.get("location") for r in results.get("runs", []) if r.get("location")), None)
    if location and grown.get("location"):
        for fixed in grown["location"].get("fixed", []):
            before = next((f for f in location.get("fixed", []) if f["rate"] == fixed["rate"]), None)
            if before:
                for q in ("p50", "p99"):
                    add(f"location {fixed['rate']:.0f}/s POST {q} ms", before["post_latency"][f"{q}_ms"],
                        fixed["post_latency"][f"{q}_ms"])
                add(f"location {fixed['rate']:.0f}/s push p99 ms", before["push_latency"]["p99_ms"],
                    fixed["push_latency"]["p99_ms"])
    if grown.get("lifecycle"):
        after = grown["lifecycle"]
        before = next((r for r in results.get("lifecycle", []) if r["writers"] == after["writers"]), None)
        if before:
            for q in ("p50", "p99"):
                add(f"lifecycle {after['writers']} writers batch {q} ms", before["batch_latency"][f"{q}_ms"],
                    after["batch_latency"][f"{q}_ms"])
            add(f"lifecycle {after['writers']} writers s per 1,000 batches",
                round(1000 / before["batches_per_s"], 3) if before["batches_per_s"] else None,
                round(1000 / after["batches_per_s"], 3) if after["batches_per_s"] else None)
    return rows


def _cpu_line(run: dict[str, Any]) -> str:
    parts = [f"{name} {run[f'{name}_cpu_ms_per_unit']}" for name in ("app", "relay", "database", "redis")
             if run.get(f"{name}_cpu_ms_per_unit") is not None]
    return f"CPU ms per update: {', '.join(parts)}, total {run.get('total_cpu_ms_per_unit')}"


def _wrk_ms(text: str, quantile: str) -> float | None:
    found = re.search(rf"^\s+{quantile}%\s+([\d.]+)(us|ms|s)\s*$", text, re.MULTILINE)
    if not found:
        return None
    value, unit = float(found.group(1)), found.group(2)
    return round(value / 1000 if unit == "us" else value * 1000 if unit == "s" else value, 2)


def wait_until_idle(server: Server, *, busy_share: float = 0.05, window: float = 0.5, limit: float = 60) -> float:
    """Wait until ``server`` uses under ``busy_share`` of a core over ``window`` seconds (at most
    ``limit`` s); returns the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        before = server.cpu_seconds()
        time.sleep(window)
        if server.cpu_seconds() - before < busy_share * window:
            break
    return time.monotonic() - started


def run(options: BenchOptions, base_dir: Path, say: Callable[[str], None]) -> dict[str, Any]:
    """Run everything, write the result files, print the table; every subprocess is stopped."""
    bench = Bench(options, base_dir, say)
    try:
        results = bench.run()
    finally:
        bench.stack.close()
    paths = report.write(results, bench.stack.var_dir)
    say("")
    say(report.markdown(results))
    say(f"results: {paths[0]} (and {paths[1]})")
    return results
