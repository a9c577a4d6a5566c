"""SQLite's WAL is checkpointed by the relay, in the background, not by requests; server
processes keep their startup objects out of the garbage collector's full passes."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection, transaction

from events.relay import run_tasks
from pizzadelivery import services
from pizzadelivery.infra import sqlite
from tests import factories

on_sqlite = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's WAL only")


def _lat_in_database_file(driver_id: int) -> Decimal | None:
    """The driver's latitude as the main database file holds it, the WAL ignored."""
    path = connection.settings_dict["NAME"]
    with sqlite3.connect(f"file:{path}?immutable=1", uri=True) as raw:
        row = raw.execute("SELECT lat FROM pizzadelivery_driver WHERE id = ?", (driver_id,)).fetchone()
    return Decimal(str(row[0])) if row and row[0] is not None else None


@on_sqlite
def test_requests_leave_checkpoints_to_the_relay_up_to_a_large_wal(db) -> None:
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        (pages,) = cursor.fetchone()
    assert pages == settings.SQLITE_WAL_AUTOCHECKPOINT_PAGES > 1000  # SQLite's default is 1,000


@on_sqlite
@pytest.mark.django_db(transaction=True)
def test_the_relay_copies_the_wal_into_the_database_file_about_once_a_second(monkeypatch) -> None:
    driver = factories.driver()
    sqlite.checkpoint_wal(force=True)
    services.driver_location_update(driver_id=driver.id, lat=52.5123, lng=13.4)
    assert _lat_in_database_file(driver.id) != Decimal("52.5123")  # committed, but only in the WAL

    monkeypatch.setattr(sqlite, "_last_checkpoint", 0.0)
    run_tasks()  # one relay pass's tasks
    assert _lat_in_database_file(driver.id) == Decimal("52.5123")

    services.driver_location_update(driver_id=driver.id, lat=52.6, lng=13.4)
    assert sqlite.checkpoint_wal() is None  # not due again within the second
    busy, frames, checkpointed = sqlite.checkpoint_wal(force=True)
    assert busy == 0 and frames > 0 and checkpointed == frames


@pytest.mark.django_db(transaction=True)
def test_checkpoints_are_sqlite_only_and_outside_transactions() -> None:
    assert (sqlite.checkpoint_wal(force=True) is not None) == (connection.vendor == "sqlite")
    with transaction.atomic():
        assert sqlite.checkpoint_wal(force=True) is None


@pytest.mark.parametrize("entry_point", ["pizzadelivery.wsgi", "pizzadelivery.asgi"])
def test_servers_freeze_what_they_loaded_at_startup(entry_point: str) -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "pizzadelivery.settings"}
    done = subprocess.run([sys.executable, "-c", f"import gc, {entry_point}; print(gc.get_freeze_count())"],
                          cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=60, check=True)
    assert int(done.stdout.strip().splitlines()[-1]) > 10_000  # modules, settings, URL patterns
