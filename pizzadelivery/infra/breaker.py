"""A circuit breaker for Redis, shared by every Redis use of the process.

A stalled Redis (SIGSTOP, a full network buffer) answers nothing: every call waits for its
socket timeout, and every request pays it again. After the first failure the breaker opens:
calls fail at once (``CircuitOpen``, a ``redis.ConnectionError``, so every caller's existing
"Redis is down" path answers from the database) while a background thread probes Redis after a
short interval that doubles each time it still does not answer (``BASE_SECONDS`` up to
``CAP_SECONDS``). The first probe that Redis answers closes the breaker.

The connection classes in ``pizzadelivery.infra.redis`` consult it, so the mirror, the
publisher, the cache and rate limits, socket counts and the channel layer's sends all share
one view of Redis' health.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

import redis

logger = logging.getLogger(__name__)

BASE_SECONDS = 0.1
CAP_SECONDS = 2.0


class CircuitOpen(redis.ConnectionError):
    """Redis failed a moment ago: not asked again until a background probe says it answers."""


class CircuitBreaker:
    def __init__(self, name: str, probe: Callable[[], object], *, base: float = BASE_SECONDS,
                 cap: float = CAP_SECONDS) -> None:
        self.name = name
        self._probe = probe
        self.base, self.cap = base, cap
        self._lock = threading.Lock()
        self._open = False
        self._opened_at = 0.0
        self._prober: threading.Thread | None = None
        self._prober_pid = 0
        self._generation = 0  # a reset ends the probes of the previous opening
        self.openings = 0

    @property
    def is_open(self) -> bool:
        return self._open

    def check(self) -> None:
        """Raise ``CircuitOpen`` while the breaker is open (cheap: one attribute read)."""
        if self._open:
            self._ensure_prober()
            raise CircuitOpen(f"{self.name}: failed {time.monotonic() - self._opened_at:.1f} s ago; "
                              "answering without it until it responds")

    def failure(self, exc: BaseException | None = None) -> None:
        with self._lock:
            if self._open:
                return
            self._open = True
            self._opened_at = time.monotonic()
            self.openings += 1
        logger.warning("%s unreachable (%s): skipping it until a probe answers", self.name, exc)
        self._ensure_prober()

    def close(self) -> None:
        with self._lock:
            was_open, self._open = self._open, False
            self._generation += 1
        if was_open:
            logger.warning("%s answers again after %.1f s", self.name, time.monotonic() - self._opened_at)

    reset = close

    def probe_now(self) -> bool:
        """Probe at once (a background worker that is about to use Redis anyway); closes the
        breaker when Redis answers."""
        if not self._open:
            return True
        if self._answers():
            self.close()
            return True
        return False

    def _answers(self) -> bool:
        try:
            self._probe()
        except (redis.RedisError, OSError):
            return False
        return True

    def _ensure_prober(self) -> None:
        # A forked worker inherits an open breaker but not its thread: it starts its own.
        with self._lock:
            if not self._open:
                return
            if self._prober is not None and self._prober.is_alive() and self._prober_pid == os.getpid():
                return
            self._prober_pid = os.getpid()
            self._prober = threading.Thread(target=self._probe_until_closed, args=(self._generation,),
                                            name=f"{self.name}-probe", daemon=True)
            self._prober.start()

    def _probe_until_closed(self, generation: int) -> None:
        interval = self.base
        while self._open and self._generation == generation:
            time.sleep(interval)
            if not self._open or self._generation != generation:
                return
            if self._answers():
                self.close()
                return
            interval = min(self.cap, interval * 2)
