"""Every request gets a correlation id: the caller's ``X-Correlation-ID`` when it is well
formed, a new one otherwise. Batches made while handling the request carry it, and the
response echoes it."""
from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from events.services import correlation_scope, new_correlation_id, valid_correlation_id

HEADER = "X-Correlation-ID"


class CorrelationIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get(HEADER)
        correlation_id = given if valid_correlation_id(given) else new_correlation_id()
        request.correlation_id = correlation_id
        with correlation_scope(correlation_id):
            response = self.get_response(request)
        response[HEADER] = correlation_id
        return response
