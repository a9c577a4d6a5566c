"""The system state's output serializers: ``/api/state`` is ``SystemStateOut(state).data``."""
from __future__ import annotations

from rest_framework import serializers

from pizzadelivery.infra.fields import IsoDateTimeField
from pizzadelivery.lifecycle import OrderStatus
from pizzadelivery.serializers import PositionOut


class OrderSummaryOut(serializers.Serializer):
    id = serializers.UUIDField()
    code = serializers.CharField()
    status = serializers.ChoiceField(choices=OrderStatus.choices)
    kitchen_status = serializers.CharField()
    restaurant = serializers.CharField(help_text="The restaurant's name.")
    driver_id = serializers.IntegerField(allow_null=True)
    created_at = IsoDateTimeField()
    eta = IsoDateTimeField(allow_null=True, help_text="Current estimated arrival.")


class StatusBucketOut(serializers.Serializer):
    count = serializers.IntegerField()
    orders = OrderSummaryOut(many=True, help_text="Newest first, at most 10.")


OrdersByStatusOut = type("OrdersByStatusOut", (serializers.Serializer,), {
    status: StatusBucketOut(help_text=f"Orders now {status}.") for status in OrderStatus.values})


class EtaAccuracyOut(serializers.Serializer):
    samples = serializers.IntegerField()
    mean_absolute_error_seconds = serializers.IntegerField(allow_null=True)
    mean_error_seconds = serializers.IntegerField(allow_null=True, help_text="Positive: later than promised.")


class HourCountOut(serializers.Serializer):
    hour = IsoDateTimeField()
    count = serializers.IntegerField()


class StatsOut(serializers.Serializer):
    total_orders = serializers.IntegerField()
    active_orders = serializers.IntegerField(help_text="Neither delivered nor cancelled.")
    active_deliveries = serializers.IntegerField(help_text="Dispatched or out for delivery.")
    completed_today = serializers.IntegerField(help_text="Delivered since midnight in time_zone.")
    orders_today = serializers.IntegerField()
    orders_per_hour = serializers.IntegerField(help_text="Orders placed in the last 60 minutes.")
    orders_by_hour = HourCountOut(many=True, help_text="Orders placed per hour, last 12 hours.")
    average_delivery_minutes = serializers.FloatField(allow_null=True, help_text="Placed to delivered, today.")
    on_time_rate = serializers.FloatField(
        allow_null=True, help_text="Share of today's deliveries no later than 2 min after the ETA promised at dispatch.")
    eta_accuracy = EtaAccuracyOut()
    delivery_sample_size = serializers.IntegerField(help_text="Today's deliveries the figures above use.")
    drivers_active = serializers.IntegerField()
    drivers_available = serializers.IntegerField()
    drivers_busy = serializers.IntegerField()
    time_zone = serializers.CharField()


class PointOut(serializers.Serializer):
    lat = serializers.FloatField()
    lng = serializers.FloatField()


class StateAssignmentOut(serializers.Serializer):
    order_id = serializers.UUIDField()
    code = serializers.CharField()
    stage = serializers.ChoiceField(choices=OrderStatus.choices)
    kitchen_status = serializers.CharField()
    restaurant = serializers.CharField()
    delivery_address = serializers.CharField()
    estimated_arrival = IsoDateTimeField(allow_null=True)
    minutes_remaining = serializers.FloatField(allow_null=True)
    restaurant_location = PointOut(help_text="Where the pizza is picked up.")
    destination = PointOut(help_text="The customer's door.")


class ActiveDriverOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    vehicle = serializers.CharField()
    status = serializers.CharField()
    location = PositionOut(allow_null=True)
    current_assignment = StateAssignmentOut(allow_null=True)


def health_status() -> serializers.ChoiceField:
    return serializers.ChoiceField(choices=["ok", "degraded", "down"])


class RedisHealthOut(serializers.Serializer):
    status = health_status()
    latency_ms = serializers.FloatField(allow_null=True)
    mirror_ready = serializers.BooleanField(help_text="False while the mirror is rebuilt: reads use the database.")


class DatabaseHealthOut(serializers.Serializer):
    status = health_status()
    latency_ms = serializers.FloatField(allow_null=True)
    vendor = serializers.CharField()


class ChannelLayerHealthOut(serializers.Serializer):
    status = health_status()
    backend = serializers.CharField()
    latency_ms = serializers.FloatField(allow_null=True)


class RelayHealthOut(serializers.Serializer):
    status = health_status()
    pending_batches = serializers.IntegerField(allow_null=True, help_text="Committed, not yet published.")
    oldest_pending_age_seconds = serializers.FloatField(allow_null=True)


class WebSocketHealthOut(serializers.Serializer):
    status = health_status()
    open = serializers.IntegerField(allow_null=True, help_text="Over every server process.")
    by_kind = serializers.DictField(child=serializers.IntegerField(), help_text="Open sockets per page kind.")


class DependenciesOut(serializers.Serializer):
    database = DatabaseHealthOut()
    redis = RedisHealthOut()
    channel_layer = ChannelLayerHealthOut()


class SystemHealthOut(DependenciesOut):
    relay = RelayHealthOut()
    websockets = WebSocketHealthOut()


class SystemStateOut(serializers.Serializer):
    generated_at = IsoDateTimeField()
    orders_by_status = OrdersByStatusOut(help_text="Every status, even when empty.")
    stats = StatsOut()
    drivers = ActiveDriverOut(many=True, help_text="Drivers not offline.")
    health = SystemHealthOut()
    source = serializers.ChoiceField(choices=["redis", "database"])
