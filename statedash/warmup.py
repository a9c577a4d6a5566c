"""Keeping ``/api/state`` warm: while someone asked for it in the last minute, the relay
recomputes the cached state shortly before it goes stale, so requests find it fresh and no
server process spends its time (and its GIL) computing it."""
from __future__ import annotations

import time

from django.utils import timezone

from pizzadelivery.infra.redis import REDIS_ERRORS, get_redis, key
from statedash.state_cache import shared_state

# Someone asked for the state lately: the relay keeps it warm while this key lives.
STATE_WANTED_SECONDS = 60
STATE_WANTED_NOTE_EVERY = 10.0  # each process renews the key at most this often
STATE_WARM_AHEAD_SECONDS = 1.5  # recompute this long before the cached state goes stale
_wanted_noted_at = float("-inf")


def _state_wanted_key() -> str:
    return key("statedash", "state-wanted")


def note_state_wanted() -> None:
    """Called by ``/api/state``: someone wants the state (renewed at most every 10 s per process)."""
    global _wanted_noted_at
    now = time.monotonic()
    if now - _wanted_noted_at < STATE_WANTED_NOTE_EVERY:
        return
    _wanted_noted_at = now
    try:
        get_redis().set(_state_wanted_key(), "1", ex=STATE_WANTED_SECONDS)
    except REDIS_ERRORS:
        pass  # without Redis there is no shared cache to keep warm either


def keep_state_warm() -> None:
    """Run by the relay after each pass: recompute the cached state shortly before it goes
    stale, while ``/api/state`` was asked for in the last minute."""
    if get_redis().exists(_state_wanted_key()):
        shared_state(fresh=lambda value: value[0] - timezone.now().timestamp() > STATE_WARM_AHEAD_SECONDS)
