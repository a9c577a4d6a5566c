"""SQLite's WAL checkpoints, kept off the request path.

By default the connection whose commit takes the WAL past 1,000 pages copies the whole WAL back
into the database file and syncs it, inside that request: 40 to 90 ms on this machine, about once
every 40 location updates (one writes some 24 pages). Instead, web processes let the WAL grow
further (settings' ``SQLITE_WAL_AUTOCHECKPOINT_PAGES``, a safety net for when no relay runs)
and the relay, in the background at low priority, runs a PASSIVE checkpoint about once a
second: it blocks neither the readers nor the writer, and the next writer starts the WAL over
once it is all copied.
PostgreSQL needs none of this.
"""
from __future__ import annotations

import time

from django.db import connection

CHECKPOINT_EVERY_SECONDS = 1.0

_last_checkpoint = 0.0


def checkpoint_wal(*, force: bool = False) -> tuple[int, int, int] | None:
    """A relay task: ``(busy, wal_frames, checkpointed_frames)``, or None when not due, not
    SQLite, or inside a transaction (where SQLite refuses to checkpoint)."""
    global _last_checkpoint
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        return None
    now = time.monotonic()
    if not force and now - _last_checkpoint < CHECKPOINT_EVERY_SECONDS:
        return None
    _last_checkpoint = now
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
        busy, frames, checkpointed = cursor.fetchone()
    return busy, frames, checkpointed
