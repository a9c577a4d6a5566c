"""The tests' clock: stands in for ``django.utils.timezone.now`` (which every service, cache
and snapshot reads), so a test moves time on instead of sleeping through it."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta


class Clock:
    """Stands in for ``django.utils.timezone.now`` so stage timestamps are known exactly."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def set(self, moment: datetime) -> None:
        self.now = moment

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


class RunningClock:
    """Real time plus an offset the test advances: things keep happening in order (every call
    is later than the one before), and ``advance`` skips ahead without waiting."""

    def __init__(self, real: Callable[[], datetime]) -> None:
        self.real = real
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return self.real() + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)
