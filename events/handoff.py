"""Committed batches are handed to their process's publisher thread.

One thread per process publishes whatever the outbox holds, in one pass, grouped
(``events.publisher``): with many requests committing at once, a pass takes all their batches
in one Redis transaction and one fan-out, instead of each request publishing its own.

A lifecycle change waits for its batch to be published before it answers (its pushes are out
and the mirror reads what it wrote), up to ``PUBLISH_WAIT_SECONDS``: behind a backlog (after a
Redis outage) or with Redis down it answers anyway, committed, and the batch is published by
this thread or the relay. Telemetry (a batch of position reports only) does not wait: it is
acknowledged once committed, and the thread gathers reports for ``PUBLISH_GATHER_SECONDS``
before it starts a pass (cut short by any lifecycle hand-over), so under load one pass
publishes many and a page is pushed the latest position once.
"""
from __future__ import annotations

import logging
import os
import threading
import time

from django.conf import settings
from django.db import close_old_connections, connection

logger = logging.getLogger(__name__)


class PublisherThread:
    """This process's publisher: passes run whenever a batch was handed over since the last."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        # Tickets, not batch ids (a restored database numbers its batches again): a pass that
        # starts after a hand-over publishes that batch, committed before it was handed over.
        self._wanted = 0    # tickets handed out
        self._handled = 0   # tickets covered by a finished pass
        self._last_ok = True
        self._urgent = False  # a hand-over waits for its pass: no gathering
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._pid: int | None = None

    def _ensure_running(self) -> None:
        # A forked child inherits the object but not the thread: it starts its own.
        if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
            self._pid = os.getpid()
            self._wanted = self._handled = 0
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="publisher", daemon=True)
            self._thread.start()

    def hand_over(self, batch_id: int, *, wait: bool) -> bool:
        """Have ``batch_id`` (committed) published; with ``wait``, return once a pass covered
        it: True when published, False when that pass failed or the wait timed out."""
        with self._cond:
            self._ensure_running()
            self._wanted += 1
            ticket = self._wanted
            self._urgent = self._urgent or wait
            self._cond.notify_all()
            if not wait:
                return True
            deadline = time.monotonic() + settings.PUBLISH_WAIT_SECONDS
            while self._handled < ticket:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    logger.info("batch %s not published within %.1f s: left to the publisher and relay",
                                batch_id, settings.PUBLISH_WAIT_SECONDS)
                    return False
                self._cond.wait(remaining)
            return self._last_ok

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until every batch handed over so far has had its pass (tests; a clean stop)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._handled < self._wanted:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def stop(self, timeout: float = 5.0) -> None:
        """Finish the passes handed over, close the thread's database connection and end it
        (a clean shutdown; the tests, before their database is dropped)."""
        thread = self._thread
        if thread is None or self._pid != os.getpid() or not thread.is_alive():
            return
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        thread.join(timeout)
        self._thread = None

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._wanted <= self._handled and not self._stopping:
                    self._cond.wait()
                if self._wanted <= self._handled:  # stopping, nothing left
                    connection.close()
                    return
                # Only telemetry waiting: gather what else arrives for a moment, so a busy
                # process publishes many reports in one pass (a page gets the latest position).
                deadline = time.monotonic() + settings.PUBLISH_GATHER_SECONDS
                while not (self._urgent or self._stopping) and (remaining := deadline - time.monotonic()) > 0:
                    self._cond.wait(remaining)
                self._urgent = False
                target = self._wanted
            ok = self._pass()
            with self._cond:
                self._handled = max(self._handled, target)
                self._last_ok = ok
                self._cond.notify_all()

    @staticmethod
    def _pass() -> bool:
        """Publish until nothing is pending; False when Redis or the database refused."""
        from events.publisher import PublishError, publish_pending
        from pizzadelivery.infra.redis import breaker

        try:
            if breaker.is_open:
                return False  # Redis is known down: nothing to try (the relay publishes once it is back)
            close_old_connections()
            while publish_pending():
                pass
            return True
        except PublishError as exc:
            # Committed is committed: the batches wait in the outbox for the next pass or the relay.
            logger.warning("publishing left to the relay: %s", exc)
        except Exception:
            logger.exception("publisher pass failed")
            connection.close()
        return False


publisher_thread = PublisherThread()
