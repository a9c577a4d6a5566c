"""The registry of event types: each app registers the types it emits, with their payload.

A batch validates each event against this registry when it is built, so a payload that
does not match is a programming error caught before anything is stored. A type also says
how to tell it to a person in one line (``summary``, used by live feeds and timelines) and
whether it is telemetry (frequent, superseded by the next one) rather than a lifecycle fact.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

NUMBER = (int, float)
OPTIONAL_STR = (str, type(None))
OPTIONAL_NUMBER = (int, float, type(None))

# summary(payload, driver name or "") -> one line of plain text
Summary = Callable[[dict[str, Any], str], str]


class InvalidEvent(ValueError):
    pass


@dataclass(frozen=True)
class EventType:
    name: str
    doc: str
    fields: dict[str, tuple[type, ...]] = field(default_factory=dict)
    needs_order: bool = False
    needs_driver: bool = False
    summary: Summary | None = None
    tone: str = "info"
    telemetry: bool = False

    def validate(self, payload: dict[str, Any], *, order_id: object, driver_id: object) -> None:
        if self.needs_order and order_id is None:
            raise InvalidEvent(f"{self.name} needs an order_id")
        if self.needs_driver and driver_id is None:
            raise InvalidEvent(f"{self.name} needs a driver_id")
        missing = set(self.fields) - set(payload)
        extra = set(payload) - set(self.fields)
        if missing or extra:
            raise InvalidEvent(f"{self.name}: missing {sorted(missing)}, unexpected {sorted(extra)}")
        for name, types in self.fields.items():
            value = payload[name]
            if isinstance(value, bool) and bool not in types:
                raise InvalidEvent(f"{self.name}.{name} must be {types}, got bool")
            if not isinstance(value, types):
                raise InvalidEvent(f"{self.name}.{name} must be {types}, got {type(value).__name__}")


EVENT_TYPES: dict[str, EventType] = {}


def register(type_name: str, doc: str, /, *, needs_order: bool = False, needs_driver: bool = False,
             summary: Summary | None = None, tone: str = "info", telemetry: bool = False,
             **fields: type | tuple[type, ...]) -> EventType:
    """Register an event type and its payload fields (``name=type`` or a tuple of types)."""
    normalized = {k: v if isinstance(v, tuple) else (v,) for k, v in fields.items()}
    event_type = EventType(type_name, doc, normalized, needs_order, needs_driver, summary, tone, telemetry)
    EVENT_TYPES[type_name] = event_type
    return event_type


def validate(type_name: str, payload: dict[str, Any], *, order_id: object = None,
             driver_id: object = None) -> EventType:
    try:
        event_type = EVENT_TYPES[type_name]
    except KeyError:
        raise InvalidEvent(f"unknown event type {type_name!r}") from None
    event_type.validate(payload, order_id=order_id, driver_id=driver_id)
    return event_type


def summarize(type_name: str, payload: dict[str, Any], *, driver: str = "") -> str:
    """The event in one line for people; empty for a type nobody registered (or no summary)."""
    event_type = EVENT_TYPES.get(type_name)
    if event_type is None or event_type.summary is None:
        return ""
    return event_type.summary(payload, driver)


def tone(type_name: str) -> str:
    event_type = EVENT_TYPES.get(type_name)
    return event_type.tone if event_type else "info"


def telemetry_types() -> list[str]:
    return sorted(name for name, event_type in EVENT_TYPES.items() if event_type.telemetry)


def all_telemetry(types: list[str]) -> bool:
    """Whether every one of ``types`` is telemetry (a batch of position reports only)."""
    return bool(types) and all(name in EVENT_TYPES and EVENT_TYPES[name].telemetry for name in types)


register("batch.rolled_back", "A batch failed; nothing of it was stored or published.",
         summary=lambda p, driver: f"rolled back: {p['reason']}", tone="bad", reason=str, attempted=list)
