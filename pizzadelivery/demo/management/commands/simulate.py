"""``python manage.py simulate``: the living demo. Kitchens move orders along, drivers ride
street-grid routes at city speeds and report positions, customers order now and then; all
through the services, like the API. Ctrl-C or SIGTERM stops it between two ticks."""
from __future__ import annotations

import logging
import random
import signal
import threading
import time

from django.core.management.base import BaseCommand, CommandParser
from django.db import DatabaseError, close_old_connections
from django.utils import timezone

from pizzadelivery.demo.simulator import Simulator

logger = logging.getLogger("pizzadelivery.simulate")

MAX_TICK_GAP_S = 10.0  # after a stall (laptop asleep), don't teleport drivers across the city


class Command(BaseCommand):
    help = "Run the demo simulator (kitchens, drivers, new orders) until Ctrl-C / SIGTERM."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tick", type=float, default=2.0, help="seconds between ticks (default 2)")
        parser.add_argument("--speedup", type=float, default=1.0,
                            help="simulated seconds per real second (default 1: ETAs stay honest)")
        parser.add_argument("--orders-per-minute", type=float, default=1.5,
                            help="new customer orders per simulated minute (default 1.5)")
        parser.add_argument("--seed", type=int, default=None, help="random seed, for repeatable runs")
        parser.add_argument("--once", action="store_true", help="run a single tick and exit (tests)")

    def handle(self, *args: object, **options: object) -> None:
        tick = max(0.1, float(options["tick"]))
        simulator = Simulator(speedup=max(0.01, float(options["speedup"])),
                              orders_per_minute=max(0.0, float(options["orders_per_minute"])),
                              rng=random.Random(options["seed"]))
        stop = threading.Event()
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            signal.signal(signal.SIGINT, lambda *_: stop.set())
        verbose = int(options["verbosity"]) >= 2
        if not options["once"]:
            self.stdout.write(f"simulator running: tick {tick:g} s, speedup {simulator.speedup:g}x "
                              f"(Ctrl-C stops it)")
        last = time.monotonic() - tick
        while not stop.is_set():
            started = time.monotonic()
            elapsed, last = min(started - last, MAX_TICK_GAP_S), started
            close_old_connections()
            try:
                report = simulator.tick(now=timezone.now(), seconds=tick if options["once"] else elapsed)
            except DatabaseError as exc:  # e.g. SQLite busy under load: try again next tick
                logger.warning("simulator tick failed, retrying: %s", exc)
            else:
                if verbose or options["once"]:
                    self.stdout.write(report.summary())
                    for refusal in report.refusals if verbose else ():
                        self.stdout.write(f"  refused: {refusal}")
            if options["once"]:
                break
            stop.wait(max(0.0, tick - (time.monotonic() - started)))
        if not options["once"]:
            self.stdout.write("simulator stopped")
