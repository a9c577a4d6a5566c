"""``make bench``: the product under load on 127.0.0.1 (see ``bench``).

Starts its own Redis and a fresh database (nothing of ``make run`` is touched), seeds 10,000+
orders, starts the servers of each layout, measures, writes ``var/bench/results-<time>.json``
and ``var/bench/latest.json``, and prints a markdown table. ``--quick`` takes about two minutes.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path
from typing import Any

from bench.runner import STAGES, BenchOptions, run
from bench.stack import LAYER_SETTINGS, LAYOUTS


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def _names(allowed: dict[str, str]) -> Any:
    def parse(text: str) -> list[str]:
        names = [part.strip() for part in text.split(",") if part.strip()]
        unknown = [n for n in names if n not in allowed]
        if unknown or not names:
            raise ValueError(f"choose from {', '.join(allowed)}")
        return names
    return parse


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


class Command:
    """The command line of ``python -m bench``. The bench touches only its own database and
    Redis: nothing of ``make run``'s is read or written."""

    help = "Benchmark the product (HTTP at fixed rates and saturated, WebSockets, event batches)."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        d = BenchOptions()
        parser.add_argument("--quick", action="store_true",
                            help="One layout, 2,000 orders, short runs (about two minutes).")
        parser.add_argument("--orders", type=int, help=f"Orders to seed (default {d.orders}).")
        parser.add_argument("--drivers", type=int, help=f"Drivers to seed (default {d.drivers}).")
        parser.add_argument("--layouts", type=_names(LAYOUTS),
                            help=f"Serving layouts to compare; sockets and channel layers are measured on the first "
                                 f"(default {','.join(d.layouts)}): " + "; ".join(f"{k}: {v}" for k, v in LAYOUTS.items()))
        parser.add_argument("--layers", type=_names(LAYER_SETTINGS),
                            help=f"Channel layers; the first is used with every layout (default {','.join(d.layers)}).")
        parser.add_argument("--workers", type=int, help=f"HTTP worker processes (default {d.workers}).")
        parser.add_argument("--threads", type=int, help=f"Threads per WSGI worker: granian's blocking threads, "
                                                        f"gunicorn's gthreads (default {d.threads}).")
        parser.add_argument("--duration", type=float, help=f"Seconds per fixed-rate run (default {d.duration:g}).")
        parser.add_argument("--delivery-rates", type=_ints, help="Fixed rates for the delivery endpoint, req/s "
                            f"(default {','.join(map(str, d.delivery_rates))}).")
        parser.add_argument("--state-rates", type=_ints, help="Fixed rates for /api/state, req/s "
                            f"(default {','.join(map(str, d.state_rates))}).")
        parser.add_argument("--saturation-connections", type=int,
                            help=f"Keep-alive connections of the saturation run (default {d.saturation_connections}).")
        parser.add_argument("--saturation-duration", type=float,
                            help="Seconds of the saturation run (0 skips it; with no rates either, HTTP is skipped).")
        parser.add_argument("--saturation-tool", choices=["auto", "wrk", "python"],
                            help="auto: Debian's wrk when installed, else the Python generator.")
        parser.add_argument("--push-sockets", type=_ints,
                            help=f"Socket counts for push latency (default {','.join(map(str, d.push_sockets))}).")
        parser.add_argument("--push-rate", type=float, help=f"Location updates per second (default {d.push_rate:g}).")
        parser.add_argument("--push-duration", type=float, help="Seconds of location updates per push run.")
        parser.add_argument("--push-orders", type=int, help="Spread the push sockets over at most this many "
                            "orders (default: every order on the road; 1: all sockets watch one order).")
        parser.add_argument("--hold-sockets", type=_ints,
                            help=f"Socket counts to open and hold (default {','.join(map(str, d.hold_sockets))}).")
        parser.add_argument("--hold-seconds", type=float, help="Seconds to hold them before counting.")
        parser.add_argument("--no-ws-compression", action="store_true",
                            help="Clients do not offer permessage-deflate (browsers do, so it is on by default).")
        parser.add_argument("--ws-server-compression", choices=["on", "off", "both"],
                            help="The server's permessage-deflate for the held sockets: off (production's, "
                                 "WS_PER_MESSAGE_DEFLATE=0), on (uvicorn's own default, on a uvicorn of its own), "
                                 f"or both (default {d.ws_server_compression}).")
        parser.add_argument("--event-duration", type=float,
                            help="Seconds of the event-batch run and of each lifecycle writers run (0 skips them).")
        parser.add_argument("--writers", type=_ints, help="Concurrent writers of the lifecycle runs "
                            f"(default {','.join(map(str, d.writers))}).")
        parser.add_argument("--growth-events", type=int, help="Published position reports to store before the growth "
                            f"run measures again (default {d.growth_events:,}; 0 skips it, as --quick does).")
        parser.add_argument("--location-rates", type=_ints, help="Fixed rates of location updates, per second "
                            f"(default {','.join(map(str, d.location_rates))}).")
        parser.add_argument("--location-duration", type=float,
                            help=f"Seconds per fixed-rate location run (default {d.location_duration:g}).")
        parser.add_argument("--stages", type=_names(STAGES), help="What to measure (default: all): "
                            + "; ".join(f"{k}: {v}" for k, v in STAGES.items()))
        parser.add_argument("--var-dir", type=Path, help="Where the bench database, Redis socket and results go "
                            "(default var/bench).")

    def handle(self, *args: Any, quick: bool, no_ws_compression: bool, **options: Any) -> None:
        chosen = {name: value for name, value in options.items()
                  if name in BenchOptions.__dataclass_fields__ and value is not None}
        if no_ws_compression:
            chosen["ws_compression"] = False
        bench_options = BenchOptions.quick(**chosen) if quick else BenchOptions(**chosen)
        # SIGTERM (e.g. from CI or a parent) takes the same clean-up path as Ctrl-C.
        for stop_signal in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(stop_signal, _interrupt)
        try:
            run(bench_options, BASE_DIR, lambda line: print(line, flush=True))
        except KeyboardInterrupt:
            print("interrupted: every server and load process was stopped", file=sys.stderr)
            raise SystemExit(130) from None


BASE_DIR = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> None:
    command = Command()
    parser = argparse.ArgumentParser(prog="python -m bench", description=command.help)
    command.add_arguments(parser)
    options = vars(parser.parse_args(argv))
    command.handle(**options)


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pizzadelivery.settings")
    main()
