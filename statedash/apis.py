"""``GET /api/state``: the system state, cached, computed once per period, rate limited; and
``GET /healthz``: liveness for anyone (a probe), and each dependency's health for staff."""
from __future__ import annotations

from django.contrib.auth import get_user
from django.db import DatabaseError
from django.http import HttpResponse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from pizzadelivery.infra import ratelimits
from pizzadelivery.infra.docs import AUTH_ERRORS, FORBIDDEN, NOT_AUTHENTICATED, error_example, errors, roles
from pizzadelivery.infra.errors import ApiError
from pizzadelivery.infra.fields import IsoDateTimeField
from pizzadelivery.infra.serializers import represent
from pizzadelivery.policy import allowed, may
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


class PublicHealthOut(serializers.Serializer):
    status = serializers.ChoiceField(choices=["up", "degraded"], help_text="`degraded`: a dependency is not ok.")


class HealthOut(PublicHealthOut):
    live = serializers.BooleanField(help_text="Always true: the process answers.")
    checked_at = IsoDateTimeField()
    dependencies = DependenciesOut()


def _staff(request: Request) -> bool:
    """Whether the caller may see what is behind the status (``pd.view_state``): a session, or a
    token that is valid. A probe sends neither, and a stale credential must not fail it."""
    user = get_user(request._request)  # the session's (DRF's own user is anonymous here)
    if not user.is_authenticated:
        try:
            found = TokenAuthentication().authenticate(request)
        except AuthenticationFailed:
            found = None
        if found is None:
            return False
        user = found[0]
    return may(user, "pd.view_state")


@method_decorator(never_cache, name="dispatch")
class HealthzApi(APIView):
    """Liveness (answering at all) and each dependency's health; 200 while the process lives,
    so an orchestrator restarts this process only when it is really stuck."""

    permission_classes = [AllowAny]
    authentication_classes: list = []  # a probe sends no credentials, and a stale one must not fail it

    @extend_schema(
        operation_id="healthz", tags=["system"], summary="Liveness and dependencies",
        description="200 while the process lives, with `status` `up`, or `degraded` when a dependency "
                    "(database, Redis and its mirror, channel layer) is not ok. Staff (dispatchers, admins) also "
                    "get each dependency's status (`ok`, `degraded`, `down`) and latency; anyone else only the "
                    "status. Never cached." + roles("anyone (a probe); the details, dispatchers and admins."),
        auth=[], responses={200: HealthOut},
        examples=[OpenApiExample("anyone", response_only=True, status_codes=["200"], value={"status": "up"}),
                  OpenApiExample("staff", response_only=True, status_codes=["200"], value={
            "status": "up", "live": True, "checked_at": "2026-12-01T12:00:00+00:00", "dependencies": {
                "database": {"status": "ok", "latency_ms": 0.4, "vendor": "postgresql"},
                "redis": {"status": "ok", "latency_ms": 0.2, "mirror_ready": True},
                "channel_layer": {"status": "ok", "backend": "RedisPubSubChannelLayer", "latency_ms": 0.2}}})])
    def get(self, request: Request) -> Response:
        checks = health.dependencies()
        status = "up" if health.overall(checks) == health.OK else "degraded"
        if not _staff(request):
            return Response(represent(PublicHealthOut, {"status": status}))
        return Response(represent(HealthOut, {"status": status, "live": True, "checked_at": timezone.now(),
                                              "dependencies": checks}))
