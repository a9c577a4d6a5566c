"""``GET /api/state``: the system state, cached, computed once per period, rate limited."""
from __future__ import annotations

from django.db import DatabaseError
from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.views import APIView

from pizzadelivery.infra import ratelimits
from pizzadelivery.infra.errors import ApiError, ErrorOut
from pizzadelivery.policy import allowed
from statedash.serializers import SystemStateOut
from statedash.state_cache import cached_system_state
from statedash.warmup import note_state_wanted


class SystemStateApi(APIView):
    """Dispatchers and admins (session or token). Cached for STATE_CACHE_SECONDS (5 s)."""

    permission_classes = [allowed("pd.view_state")]

    @extend_schema(responses={200: SystemStateOut, 401: ErrorOut, 403: ErrorOut, 429: ErrorOut, 503: ErrorOut})
    def get(self, request: Request) -> HttpResponse:
        ratelimits.enforce(request, group="state", setting="STATE_RATE_LIMIT")
        try:
            note_state_wanted()
            return HttpResponse(cached_system_state(), content_type="application/json")
        except DatabaseError:
            # Only when Redis cannot answer either (the mirror reads no database).
            raise ApiError("state_unavailable", "Neither Redis nor the database can answer right now.",
                           status_code=503) from None
