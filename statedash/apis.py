"""``GET /api/state``: the system state, cached, computed once per period, rate limited."""
from __future__ import annotations

from django.db import DatabaseError
from django.http import HttpResponse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.views import APIView

from pizzadelivery import ratelimits
from pizzadelivery.errors import ApiError
from pizzadelivery.models import OrderStatus
from pizzadelivery.permissions import IsStaffOrIntegrator
from statedash.selectors import cached_system_state

ERROR = inline_serializer("StateError", fields={"error": serializers.CharField(),
                                                "detail": serializers.CharField()})


class OrderSummaryOut(serializers.Serializer):
    id = serializers.UUIDField()
    code = serializers.CharField()
    status = serializers.ChoiceField(choices=OrderStatus.choices)
    kitchen_status = serializers.CharField()
    restaurant = serializers.CharField(help_text="The restaurant's name.")
    driver_id = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    eta = serializers.DateTimeField(allow_null=True, help_text="Current estimated arrival.")


class StatusBucketOut(serializers.Serializer):
    count = serializers.IntegerField()
    orders = OrderSummaryOut(many=True, help_text="Newest first, at most 10.")


class EtaAccuracyOut(serializers.Serializer):
    samples = serializers.IntegerField()
    mean_absolute_error_seconds = serializers.IntegerField(allow_null=True)
    mean_error_seconds = serializers.IntegerField(allow_null=True, help_text="Positive: later than promised.")


class HourCountOut(serializers.Serializer):
    hour = serializers.DateTimeField()
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


class AssignmentOut(serializers.Serializer):
    order_id = serializers.UUIDField()
    code = serializers.CharField()
    stage = serializers.ChoiceField(choices=OrderStatus.choices)
    kitchen_status = serializers.CharField()
    restaurant = serializers.CharField()
    delivery_address = serializers.CharField()
    estimated_arrival = serializers.DateTimeField(allow_null=True)
    minutes_remaining = serializers.FloatField(allow_null=True)


class ActiveDriverOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    vehicle = serializers.CharField()
    status = serializers.CharField()
    location = serializers.DictField(allow_null=True)
    current_assignment = AssignmentOut(allow_null=True)


class SystemStateOut(serializers.Serializer):
    generated_at = serializers.DateTimeField()
    orders_by_status = serializers.DictField(child=StatusBucketOut(), help_text="Every status, even when empty.")
    stats = StatsOut()
    drivers = ActiveDriverOut(many=True, help_text="Drivers not offline.")
    health = serializers.DictField(help_text="redis, database, channel_layer, relay, websockets: each with "
                                             "status ok, degraded or down.")
    source = serializers.ChoiceField(choices=["redis", "database"])


class SystemStateApi(APIView):
    """Staff session or integrator token. Cached for STATE_CACHE_SECONDS (5 s)."""

    permission_classes = [IsStaffOrIntegrator]

    @extend_schema(responses={200: SystemStateOut, 401: ERROR, 403: ERROR, 429: ERROR, 503: ERROR})
    def get(self, request: Request) -> HttpResponse:
        ratelimits.enforce(request, group="state", setting="STATE_RATE_LIMIT")
        try:
            return HttpResponse(cached_system_state(), content_type="application/json")
        except DatabaseError:
            # Only when Redis cannot answer either (the mirror reads no database).
            raise ApiError("state_unavailable", "Neither Redis nor the database can answer right now.",
                           status_code=503) from None
