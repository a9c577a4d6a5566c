from __future__ import annotations

import pytest
from django.db import connection


@pytest.fixture
def failing_event_insert(transactional_db):
    """A real database error: a trigger that refuses to store an event for driver id -1."""
    if connection.vendor == "sqlite":
        create = ["CREATE TRIGGER refuse_marked_event BEFORE INSERT ON events_event "
                  "WHEN NEW.driver_id = -1 BEGIN SELECT RAISE(ABORT, 'refused by test trigger'); END;"]
        drop = ["DROP TRIGGER IF EXISTS refuse_marked_event;"]
    else:
        create = [
            "CREATE OR REPLACE FUNCTION refuse_marked_event() RETURNS trigger AS $$ BEGIN "
            "IF NEW.driver_id = -1 THEN RAISE EXCEPTION 'refused by test trigger'; END IF; "
            "RETURN NEW; END; $$ LANGUAGE plpgsql;",
            "CREATE TRIGGER refuse_marked_event BEFORE INSERT ON events_event "
            "FOR EACH ROW EXECUTE FUNCTION refuse_marked_event();",
        ]
        drop = ["DROP TRIGGER IF EXISTS refuse_marked_event ON events_event;",
                "DROP FUNCTION IF EXISTS refuse_marked_event();"]
    with connection.cursor() as cursor:
        for statement in create:
            cursor.execute(statement)
    yield -1
    with connection.cursor() as cursor:
        for statement in drop:
            cursor.execute(statement)
