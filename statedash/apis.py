"""``GET /api/state``: the system state, cached, computed once per period, rate limited; and
``GET /healthz``: liveness and each dependency's health (anyone: a probe)."""
from __future__ import annotations

from django.db import DatabaseError
from django.http import HttpResponse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from pizzadelivery.infra import ratelimits
from pizzadelivery.infra.docs import AUTH_ERRORS, FORBIDDEN, NOT_AUTHENTICATED, error_example, errors, roles
from pizzadelivery.infra.errors import ApiError
from pizzadelivery.infra.fields import IsoDateTimeField
from pizzadelivery.infra.serializers import represent
from pizzadelivery.policy import allowed
from statedash import health
from statedash.serializers import DependenciesOut, SystemStateOut
from statedash.state_cache import cached_system_state
from statedash.warmup import note_state_wanted


class SystemStateApi(APIView):
    """Dispatchers and admins (session or token). Cached for STATE_CACHE_SECONDS (5 s)."""

    permission_classes = [allowed("pd.view_state")]

    @extend_schema(
        tags=["system"], summary="The system state",
        description="Everything the dispatcher dashboard shows, in one document: orders by status (each with "
                    "its newest orders), today's figures, active drivers with their assignments, the health of "
                    "every dependency, and whether it came from Redis or (degraded) the database. Cached for "
                    "`STATE_CACHE_SECONDS` (5 s); rate limited per client (`STATE_RATE_LIMIT`, 600/min)."
                    + roles("dispatchers, admins."),
        responses={200: SystemStateOut, **AUTH_ERRORS, **errors(
            e429="`rate_limited`, with `Retry-After`.",
            e503="`state_unavailable`: neither Redis nor the database can answer.")},
        examples=[error_example(429, "rate_limited", "Too many requests; retry in 12 s.", retry_after=12),
                  NOT_AUTHENTICATED, FORBIDDEN])
    def get(self, request: Request) -> HttpResponse:
        ratelimits.enforce(request, group="state", setting="STATE_RATE_LIMIT")
        try:
            note_state_wanted()
            return HttpResponse(cached_system_state(), content_type="application/json")
        except DatabaseError:
            # Only when Redis cannot answer either (the mirror reads no database).
            raise ApiError("state_unavailable", "Neither Redis nor the database can answer right now.",
                           status_code=503) from None


class HealthOut(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "degraded"], help_text="`degraded`: a dependency is not ok.")
    live = serializers.BooleanField(help_text="Always true: the process answers.")
    checked_at = IsoDateTimeField()
    dependencies = DependenciesOut()


@method_decorator(never_cache, name="dispatch")
class HealthzApi(APIView):
    """Liveness (answering at all) and each dependency's health; 200 while the process lives,
    so an orchestrator restarts this process only when it is really stuck."""

    permission_classes = [AllowAny]
    authentication_classes: list = []  # a probe sends no credentials, and a stale one must not fail it

    @extend_schema(
        operation_id="healthz", tags=["system"], summary="Liveness and dependencies",
        description="200 while the process lives, with `status` `ok`, or `degraded` when a dependency "
                    "(database, Redis and its mirror, channel layer) is not ok; each dependency's status "
                    "(`ok`, `degraded`, `down`) and latency. Never cached." + roles("anyone (a probe)."),
        auth=[], responses={200: HealthOut},
        examples=[OpenApiExample("healthy", response_only=True, status_codes=["200"], value={
            "status": "ok", "live": True, "checked_at": "2026-12-01T12:00:00+00:00", "dependencies": {
                "database": {"status": "ok", "latency_ms": 0.4, "vendor": "postgresql"},
                "redis": {"status": "ok", "latency_ms": 0.2, "mirror_ready": True},
                "channel_layer": {"status": "ok", "backend": "RedisPubSubChannelLayer", "latency_ms": 0.2}}})])
    def get(self, request: Request) -> Response:
        checks = health.dependencies()
        status = "ok" if health.overall(checks) == health.OK else "degraded"
        return Response(represent(HealthOut, {"status": status, "live": True, "checked_at": timezone.now(),
                                              "dependencies": checks}))
