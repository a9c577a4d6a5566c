"""Input parsing shared by the API and the pages."""
from __future__ import annotations

import math
import unicodedata
import re
import uuid

from rest_framework import serializers

from pizzadelivery.infra.errors import ApiError

UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
MAX_INT = 2**31 - 1


def parse_order_id(raw: str) -> uuid.UUID:
    """A well-formed order id, or 400 ``invalid_order_id``; never reaches the database otherwise."""
    if not isinstance(raw, str) or not UUID_RE.match(raw):
        raise ApiError("invalid_order_id", "Order ids are UUIDs, like 3f2b9c4e-1d2a-4b7e-9c1f-2a6b8d0e4f11.")
    return uuid.UUID(raw)


def parse_int_id(raw: str, *, code: str, what: str) -> int:
    if not isinstance(raw, str) or not raw.isascii() or not raw.isdigit() or len(raw) > 10 or int(raw) > MAX_INT:
        raise ApiError(code, f"{what} ids are positive whole numbers.")
    value = int(raw)
    if value < 1:
        raise ApiError(code, f"{what} ids are positive whole numbers.")
    return value


class FiniteFloatField(serializers.FloatField):
    default_error_messages = {"finite": "A finite number is required."}

    def to_internal_value(self, data: object) -> float:
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            self.fail("invalid")
        value = super().to_internal_value(data)
        if not math.isfinite(value):
            self.fail("finite")
        return value


def latitude(**kwargs: object) -> FiniteFloatField:
    return FiniteFloatField(min_value=-90, max_value=90, **kwargs)


def longitude(**kwargs: object) -> FiniteFloatField:
    return FiniteFloatField(min_value=-180, max_value=180, **kwargs)


class StrictIntegerField(serializers.IntegerField):
    """An integer that is an integer: no booleans, no 1.0, no "1"."""

    def to_internal_value(self, data: object) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class IsoDateTimeField(serializers.DateTimeField):
    """An output date-time as every document holds it: ISO 8601 in UTC (``+00:00``), as stored.
    (DRF's own field would convert to the local time zone; the mirror's documents and the event
    payloads carry UTC, and one response should not mix the two.)"""

    def to_representation(self, value: object) -> str | None:
        if value is None or isinstance(value, str):
            return value
        return value.isoformat()  # type: ignore[attr-defined]


# --- people's names ---------------------------------------------------------------------------
# Invisible characters (Unicode "format" characters: zero-width spaces and joiners, direction
# marks, the BOM) carry nothing a driver could read out; a name made of them alone is empty.

def clean_person_name(raw: str) -> str:
    """The name with invisible characters dropped and whitespace collapsed; ValueError when
    nothing readable is left (it needs a letter)."""
    # Format characters only: control characters (NUL...) are left for the field's own refusal.
    visible = "".join(char for char in raw if unicodedata.category(char) != "Cf")
    name = " ".join(visible.split())
    if not any(unicodedata.category(char).startswith("L") for char in name):
        raise ValueError("A name needs letters.")
    return name


class PersonNameField(serializers.CharField):
    """A person's name: visible, with at least one letter."""

    def to_internal_value(self, data: object) -> str:
        value = super().to_internal_value(data)
        try:
            return clean_person_name(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None
