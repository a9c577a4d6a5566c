"""What a webhook carries: ``{"type", "timestamp", "data"}``, ``data`` being the event as
``GET /api/events`` shows it. One serializer per event type, made from the event registry, so
each type's payload is typed and documented, and the body sent is that serializer's output."""
from __future__ import annotations

from functools import cache
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from events import registry
from pizzadelivery.infra.fields import IsoDateTimeField
from pizzadelivery.infra.serializers import represent

TEST_TYPE = "webhook.test"


def _camel(type_name: str) -> str:
    return "".join(part.capitalize() for part in type_name.replace("_", ".").split("."))


CONST = "x-pd-const"  # one fixed value: pizzadelivery.apidocs writes it as a one-value enum


def _const(value: str) -> serializers.Field:
    """A string that is always ``value`` (the type of a typed webhook)."""
    field_class = extend_schema_field({"type": "string", CONST: value})(
        type("ConstField", (serializers.CharField,), {}))
    return field_class(help_text=f"Always `{value}`.")


def _field(types: tuple[type, ...]) -> serializers.Field:
    nullable = type(None) in types
    kinds = set(types) - {type(None)}
    if kinds == {str}:
        return serializers.CharField(allow_null=nullable, allow_blank=True)
    if kinds == {int}:
        return serializers.IntegerField(allow_null=nullable)
    if kinds <= {int, float}:
        return serializers.FloatField(allow_null=nullable)
    if kinds == {bool}:
        return serializers.BooleanField(allow_null=nullable)
    if kinds == {list}:
        return serializers.ListField(child=serializers.CharField(), allow_null=nullable)
    return serializers.JSONField(allow_null=nullable)


class EventDataOut(serializers.Serializer):
    """The event, as the event feed shows it (its ``payload`` depends on the type)."""

    id = serializers.UUIDField(help_text="The event's id: also the `webhook-id` header, the same on every retry.")
    seq = serializers.IntegerField(help_text="Its place in the one total order of events.")
    type = serializers.CharField()
    correlation_id = serializers.CharField(help_text="The batch (one change) it belongs to: `X-Correlation-ID`.")
    order_id = serializers.UUIDField(allow_null=True)
    driver_id = serializers.IntegerField(allow_null=True)
    occurred_at = IsoDateTimeField()
    payload = serializers.DictField(help_text="The event type's fields.")


class WebhookMessageOut(serializers.Serializer):
    """Any event's webhook body (the typed schemas: one per event type)."""

    type = serializers.CharField(help_text="The event type, e.g. `order.delivered`.")
    timestamp = IsoDateTimeField(help_text="When the event happened (ISO 8601, UTC).")
    data = EventDataOut()


@cache
def message_serializer(type_name: str) -> type[serializers.Serializer]:
    """The webhook body of one event type: its ``data.payload`` typed from the registry."""
    event_type = registry.EVENT_TYPES.get(type_name)
    if event_type is None:
        return WebhookMessageOut
    name = _camel(type_name)
    payload = type(f"{name}Payload", (serializers.Serializer,), {
        "__doc__": event_type.doc,
        **{field: _field(types) for field, types in event_type.fields.items()}})
    data = type(f"{name}EventData", (EventDataOut,), {
        "__doc__": f"The `{type_name}` event.",
        "type": _const(type_name),
        "payload": payload()})
    return type(f"{name}Webhook", (serializers.Serializer,), {
        "__doc__": f"`{type_name}`: {event_type.doc}",
        "type": _const(type_name),
        "timestamp": IsoDateTimeField(help_text="When the event happened (ISO 8601, UTC)."),
        "data": data()})


class PingDataOut(serializers.Serializer):
    endpoint_id = serializers.UUIDField()
    message = serializers.CharField()


class PingMessageOut(serializers.Serializer):
    """`webhook.test`: sent by `POST /api/webhooks/{id}/test`, to this endpoint only."""

    type = _const(TEST_TYPE)
    timestamp = IsoDateTimeField()
    data = PingDataOut()


def webhook_types() -> list[str]:
    """Every type an endpoint may subscribe to (the test message comes on request only)."""
    return sorted(registry.EVENT_TYPES)


def message_schemas() -> dict[str, type[serializers.Serializer]]:
    return {**{name: message_serializer(name) for name in webhook_types()}, TEST_TYPE: PingMessageOut}


def event_message(event: Any) -> dict[str, Any]:
    """The body of ``event``'s webhook (an ``events.Event``)."""
    return represent(message_serializer(event.type), {"type": event.type, "timestamp": event.occurred_at,
                                                      "data": event})


def ping_message(test_data: dict[str, Any]) -> dict[str, Any]:
    return represent(PingMessageOut, {"type": TEST_TYPE, "timestamp": test_data["timestamp"], "data": test_data})
